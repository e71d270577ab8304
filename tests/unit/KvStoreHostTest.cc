// The kvstore example's store and protocol (examples/kvstore/store.c, protocol.c), built with
// the host's C compiler: the same C the guest runs, unchanged, against a std::map model.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <random>
#include <string>

extern "C" {
#include "protocol.h"
#include "store.h"
}

namespace vmft::testing {
namespace {

struct Store {
  Store() : store(kv_open()) {}
  ~Store() { kv_close(store); }
  std::string execute(const std::string& line) {
    char* reply = kv_execute(store, line.c_str());
    EXPECT_NE(reply, nullptr);
    std::string text = reply ? reply : "";
    free(reply);
    return text;
  }
  kv_store* store;
};

TEST(KvStoreOnTheHost, KeepsEveryKeyThroughGrowthOverwritesAndDeletes) {
  ::testing::internal::CaptureStdout();  // the store logs each change
  Store s;
  ASSERT_NE(s.store, nullptr);
  std::map<std::string, std::string> model;
  std::mt19937 random(5);
  for (int i = 0; i < 20000; i++) {
    const std::string key = "key" + std::to_string(random() % 3000);
    if (random() % 4 == 0) {
      EXPECT_EQ(kv_del(s.store, key.c_str()), model.erase(key) ? 1 : 0);
    } else {
      const std::string value(random() % 200, static_cast<char>('a' + i % 26));
      ASSERT_EQ(kv_set(s.store, key.c_str(), value.data(), value.size()), 0);
      model[key] = value;
    }
  }
  const std::string log = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(log.find("kvstore: table grown to 2048 buckets\n"), std::string::npos);
  ASSERT_EQ(kv_count(s.store), model.size());
  for (int k = 0; k < 3000; k++) {
    const std::string key = "key" + std::to_string(k);
    size_t len = 0;
    const char* value = kv_get(s.store, key.c_str(), &len);
    const auto it = model.find(key);
    ASSERT_EQ(value != nullptr, it != model.end()) << key;
    if (value) {
      EXPECT_EQ(std::string(value, len), it->second) << key;
    }
  }
}

TEST(KvStoreOnTheHost, AnswersEachRequestAndLogsEachChange) {
  ::testing::internal::CaptureStdout();
  Store s;
  EXPECT_EQ(s.execute("SET greeting hello world"), "OK\r\n");
  EXPECT_EQ(s.execute("get greeting"), "VALUE hello world\r\n");
  EXPECT_EQ(s.execute("SET empty "), "OK\r\n");
  EXPECT_EQ(s.execute("GET empty"), "VALUE \r\n");
  EXPECT_EQ(s.execute("COUNT"), "COUNT 2\r\n");
  EXPECT_EQ(s.execute("DEL greeting"), "DELETED\r\n");
  EXPECT_EQ(s.execute("DEL greeting"), "NOT_FOUND\r\n");
  EXPECT_EQ(s.execute("GET greeting"), "NOT_FOUND\r\n");
  EXPECT_EQ(s.execute(""), "ERROR empty request\r\n");
  EXPECT_EQ(s.execute("FLUSHALL"), "ERROR unknown command\r\n");
  EXPECT_EQ(s.execute("SET"), "ERROR usage: SET key value\r\n");
  EXPECT_EQ(s.execute("GET a b"), "ERROR usage: GET key\r\n");
  EXPECT_EQ(s.execute("DEL"), "ERROR usage: DEL key\r\n");
  EXPECT_EQ(s.execute("COUNT x"), "ERROR usage: COUNT\r\n");
  EXPECT_EQ(s.execute("GET " + std::string(251, 'k')), "ERROR key longer than 250 bytes\r\n");
  EXPECT_EQ(s.execute("SET " + std::string(250, 'k') + " v"), "OK\r\n");
  EXPECT_EQ(s.execute("SET k " + std::string(KV_MAX_LINE, 'v')), "ERROR line too long\r\n");
  EXPECT_EQ(::testing::internal::GetCapturedStdout(),
            "kvstore: set greeting (11 bytes), 1 keys\n"
            "kvstore: set empty (0 bytes), 2 keys\n"
            "kvstore: deleted greeting, 1 keys\n"
            "kvstore: set " +
                std::string(250, 'k') + " (1 bytes), 2 keys\n");
}

}  // namespace
}  // namespace vmft::testing
