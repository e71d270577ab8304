// The counter example guest driven by the real redis-cli: replies must be exactly Redis's.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <thread>
#include <vector>

#include "CounterServerTest.h"

namespace vmft::integration {
namespace {

TEST_F(CounterServer, AnswersPingWithPong) { EXPECT_EQ(redis_cli("PING"), "PONG\n"); }

TEST_F(CounterServer, AnswersPingWithAMessageWithThatMessage) {
  EXPECT_EQ(redis_cli("PING hello"), "\"hello\"\n");
}

TEST_F(CounterServer, EchoReturnsItsArgument) {
  EXPECT_EQ(redis_cli("ECHO 'hi there'"), "\"hi there\"\n");
}

TEST_F(CounterServer, GetReturnsWhatSetStored) {
  EXPECT_EQ(redis_cli("SET greeting 'hello world'"), "OK\n");
  EXPECT_EQ(redis_cli("GET greeting"), "\"hello world\"\n");
}

TEST_F(CounterServer, GetOfAMissingKeyIsNil) { EXPECT_EQ(redis_cli("GET nothing"), "(nil)\n"); }

TEST_F(CounterServer, IncrementsAndDecrementsReturnTheNewValue) {
  EXPECT_EQ(redis_cli("INCR n"), "(integer) 1\n");
  EXPECT_EQ(redis_cli("INCRBY n 41"), "(integer) 42\n");
  EXPECT_EQ(redis_cli("DECR n"), "(integer) 41\n");
  EXPECT_EQ(redis_cli("DECRBY n 50"), "(integer) -9\n");
  EXPECT_EQ(redis_cli("GET n"), "\"-9\"\n");
}

TEST_F(CounterServer, IncrOfANonIntegerValueIsAnError) {
  EXPECT_EQ(redis_cli("SET word abc"), "OK\n");
  EXPECT_EQ(redis_cli("INCR word"), "(error) ERR value is not an integer or out of range\n");
  EXPECT_EQ(redis_cli("GET word"), "\"abc\"\n");
}

TEST_F(CounterServer, IncrbyWithANonIntegerIncrementIsAnError) {
  EXPECT_EQ(redis_cli("INCRBY n 1.5"), "(error) ERR value is not an integer or out of range\n");
  EXPECT_EQ(redis_cli("EXISTS n"), "(integer) 0\n");
}

TEST_F(CounterServer, IncrPastTheLargestInt64IsAnOverflowError) {
  EXPECT_EQ(redis_cli("SET big 9223372036854775807"), "OK\n");
  EXPECT_EQ(redis_cli("INCR big"), "(error) ERR increment or decrement would overflow\n");
  EXPECT_EQ(redis_cli("GET big"), "\"9223372036854775807\"\n");
}

TEST_F(CounterServer, DelAndExistsCountEveryNamedKey) {
  EXPECT_EQ(redis_cli("SET a 1"), "OK\n");
  EXPECT_EQ(redis_cli("SET b 2"), "OK\n");
  EXPECT_EQ(redis_cli("EXISTS a b missing a"), "(integer) 3\n");
  EXPECT_EQ(redis_cli("DEL a missing a"), "(integer) 1\n");
  EXPECT_EQ(redis_cli("EXISTS a b"), "(integer) 1\n");
}

TEST_F(CounterServer, WrongArgumentCountIsAnErrorNamingTheCommand) {
  EXPECT_EQ(redis_cli("INCR"), "(error) ERR wrong number of arguments for 'incr' command\n");
  EXPECT_EQ(redis_cli("GET a b"), "(error) ERR wrong number of arguments for 'get' command\n");
}

TEST_F(CounterServer, UnknownCommandIsAnErrorQuotingIt) {
  EXPECT_EQ(redis_cli("FOO bar"),
            "(error) ERR unknown command 'FOO', with args beginning with: 'bar' \n");
}

TEST_F(CounterServer, CommandNamesIgnoreCase) {
  EXPECT_EQ(redis_cli("iNcR hits"), "(integer) 1\n");
  EXPECT_EQ(redis_cli("get hits"), "\"1\"\n");
}

TEST_F(CounterServer, SixtyFourRedisCliClientsIncrementOneKeyWithoutLoss) {
  constexpr int kClients = 64;
  constexpr int kIncrementsPerClient = 100;
  const std::string command = "redis-cli -p " + std::to_string(server().tcp_port()) + " -r " +
                              std::to_string(kIncrementsPerClient) + " INCR shared";
  std::vector<CommandResult> results(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; i++) {
    clients.emplace_back([&, i] { results[i] = run_shell(command, kReplyTimeout * 3); });
  }
  for (std::thread& client : clients) client.join();
  for (int i = 0; i < kClients; i++) {
    EXPECT_EQ(results[i].exit_code, std::optional<int>(0)) << "client " << i << results[i].err;
    EXPECT_EQ(std::count(results[i].out.begin(), results[i].out.end(), '\n'), kIncrementsPerClient)
        << "client " << i << " did not get a reply to every INCR";
  }
  EXPECT_EQ(redis_cli("GET shared"),
            "\"" + std::to_string(kClients * kIncrementsPerClient) + "\"\n");
}

TEST_F(CounterServer, RedisCliPipeModeGetsAReplyToEveryCommand) {
  const std::string command =
      "for i in $(seq 1 1000); do printf 'SET key:%d %d\\r\\n' $i $i; "
      "done | redis-cli -p " +
      std::to_string(server().tcp_port()) + " --pipe";
  const CommandResult result = run_shell(command, kReplyTimeout);
  EXPECT_EQ(result.exit_code, std::optional<int>(0)) << result.err;
  EXPECT_NE(result.out.find("errors: 0, replies: 1000"), std::string::npos) << result.out;
  EXPECT_EQ(redis_cli("GET key:1000"), "\"1000\"\n");
}

}  // namespace
}  // namespace vmft::integration
