// Lifecycle events as programs read them: their names, and one JSON line each with its fields.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>

#include "vmft/ft/Events.h"
#include "vmft/host/Events.h"

namespace vmft::host {
namespace {

TEST(Events, NamesEveryKindAsProgramsReadThem) {
  const std::vector<std::string> names = {
      "waiting", "paired",       "registered", "peer_lost", "went_live", "alone", "lost",
      "broken",  "join_started", "joined",     "released",  "diverged",  "exited"};
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(ft::event_name(static_cast<ft::EventKind>(i)), names[i]);
  }
}

TEST(Events, GiveEachEventItsOwnFieldsOnly) {
  EXPECT_EQ(event_fields(ft::Waiting{4242}), (nlohmann::json{{"log_port", 4242}}));
  EXPECT_EQ(event_fields(ft::Paired{}), nlohmann::json::object());
  EXPECT_EQ(event_fields(ft::Paired{"127.0.0.1:9000", 77}),
            (nlohmann::json{{"primary", "127.0.0.1:9000"}, {"joined_at", 77}}));
  EXPECT_EQ(event_fields(ft::PeerLost{"the backup is gone", std::nullopt}),
            (nlohmann::json{{"reason", "the backup is gone"}}));
  EXPECT_EQ(event_fields(ft::PeerLost{std::nullopt, 99}), (nlohmann::json{{"instruction", 99}}));
  EXPECT_EQ(event_fields(ft::WentLive{2, 1000}),
            (nlohmann::json{{"epoch", 2}, {"instruction", 1000}}));
  EXPECT_EQ(event_fields(ft::Alone{2, "the backup left"}),
            (nlohmann::json{{"epoch", 2}, {"reason", "the backup left"}}));
  EXPECT_EQ(event_fields(ft::Lost{3, "backup-1"}),
            (nlohmann::json{{"epoch", 3}, {"holder", "backup-1"}}));
  EXPECT_EQ(event_fields(ft::Broken{std::nullopt, 12}), (nlohmann::json{{"instruction", 12}}));
  EXPECT_EQ(event_fields(ft::Broken{"silent", std::nullopt}),
            (nlohmann::json{{"reason", "silent"}}));
  EXPECT_EQ(event_fields(ft::JoinStarted{}), nlohmann::json::object());
  EXPECT_EQ(event_fields(ft::Exited{5}), (nlohmann::json{{"code", 5}}));
}

TEST(EventLog, WritesAnEventAsOneJsonLineWithTheSideAndItsFields) {
  char path[] = "/tmp/vmft-events-XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  close(fd);
  {
    EventLog log(path, "demo", "primary");
    log.set_id("primary-1");
    log.emit(ft::Lost{3, "backup-1"});
  }
  std::ifstream in(path);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  std::remove(path);
  const auto json = nlohmann::json::parse(line);
  EXPECT_EQ(json.at("event"), "lost");
  EXPECT_EQ(json.at("pair"), "demo");
  EXPECT_EQ(json.at("id"), "primary-1");
  EXPECT_EQ(json.at("role"), "primary");
  EXPECT_EQ(json.at("epoch"), 3);
  EXPECT_EQ(json.at("holder"), "backup-1");
  EXPECT_EQ(json.size(), 7u);  // and "time"
  EXPECT_EQ(line.rfind("{\"epoch\":3,\"event\":\"lost\",\"holder\":\"backup-1\",\"id\":", 0), 0u)
      << line;
}

}  // namespace
}  // namespace vmft::host
