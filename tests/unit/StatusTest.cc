// What a side serves on --status-listen: the JSON round trip `vmft status` relies on, and the
// Prometheus text a scraper reads.
#include <gtest/gtest.h>

#include "vmft/host/Status.h"

namespace vmft::host {
namespace {

SideStatus a_status() {
  SideStatus s;
  s.pair = "demo";
  s.id = "backup@host:7101";
  s.role = "live";
  s.state = "paired";
  s.epoch = 3;
  s.instructions = 123456789012;
  s.log_seq = 900;
  s.log_acked = 880;
  s.has_peer = true;
  s.lag_instructions = 4096;
  s.lag_records = 20;
  s.outputs_held = 2;
  s.outputs_held_bytes = 10;
  s.oldest_output_held_seconds = 0.0015;
  s.log_bytes_sent = 1 << 20;
  s.log_bytes_received = 4096;
  s.failovers = 1;
  s.joins = 2;
  s.arbiter = "127.0.0.1:7300";
  s.arbiter_reachable = false;
  s.client_connections = 5;
  return s;
}

TEST(SideStatus, SurvivesAJsonRoundTrip) {
  const SideStatus s = a_status();
  const SideStatus again = parse_status_json(format_status_json(s));
  EXPECT_EQ(format_status_json(again), format_status_json(s));
  EXPECT_EQ(again.arbiter_reachable, std::optional<bool>(false));
  EXPECT_EQ(again.client_connections, std::optional<uint64_t>(5));
  SideStatus none = s;
  none.arbiter_reachable.reset();
  none.client_connections.reset();
  const SideStatus back = parse_status_json(format_status_json(none));
  EXPECT_FALSE(back.arbiter_reachable);
  EXPECT_FALSE(back.client_connections);
}

TEST(SideStatus, RefusesJsonThatIsNotAStatus) {
  EXPECT_THROW(parse_status_json("not json"), std::runtime_error);
  EXPECT_THROW(parse_status_json(R"({"pair": "demo"})"), std::runtime_error);
  EXPECT_THROW(parse_status_json("[1, 2]"), std::runtime_error);
}

TEST(SideStatus, MetricsCarryTheLabelsEscapedAndATypeForEachName) {
  SideStatus s = a_status();
  s.id = "odd\"id\\with\nlines";
  const std::string text = format_metrics(s);
  EXPECT_NE(
      text.find(R"(vmft_info{pair="demo",id="odd\"id\\with\nlines",role="live",state="paired"} 1)"),
      std::string::npos)
      << text;
  EXPECT_NE(text.find("# TYPE vmft_epoch gauge\nvmft_epoch 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vmft_instructions_total 123456789012\n"), std::string::npos) << text;
  EXPECT_NE(text.find("vmft_arbiter_reachable 0\n"), std::string::npos) << text;
  s.arbiter_reachable.reset();
  s.client_connections.reset();
  const std::string without = format_metrics(s);
  EXPECT_EQ(without.find("vmft_arbiter_reachable"), std::string::npos) << without;
  EXPECT_EQ(without.find("vmft_client_connections"), std::string::npos) << without;
}

TEST(SideStatus, ReadsForPeople) {
  const std::string text = describe_status(a_status());
  EXPECT_NE(text.find("pair 'demo', epoch 3: live (paired), id backup@host:7101"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("the backup trails by 4096 instructions and 20 records"), std::string::npos)
      << text;
  EXPECT_NE(text.find("arbiter 127.0.0.1:7300: NOT reachable"), std::string::npos) << text;
}

}  // namespace
}  // namespace vmft::host
