// The counter example guest at the byte level: pipelining, split requests, inline commands,
// malformed input, many connections, and a full store.
#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "CounterServerTest.h"
#include "NetClients.h"
#include "RespText.h"

namespace vmft::integration {
namespace {

TEST_F(CounterServer, RepliesToPipelinedRequestsInOrder) {
  constexpr int kRequests = 1000;
  std::string requests, replies;
  for (int i = 1; i <= kRequests; i++) {
    requests += resp_request({"INCR", "pipelined"});
    replies += resp_integer(i);
  }
  TcpClient client(server().tcp_port());
  client.send_all(requests);  // one write: many requests arrive in one event
  EXPECT_EQ(client.receive_exactly(replies.size(), kReplyTimeout).data, replies);
}

TEST_F(CounterServer, AnswersARequestSentOneByteAtATime) {
  const std::string request = resp_request({"SET", "split", "across many packets"});
  TcpClient client(server().tcp_port());
  client.set_no_delay();
  for (char byte : request) client.send_all(std::string(1, byte));
  client.send_all(resp_request({"GET", "split"}));
  const std::string replies = "+OK\r\n" + resp_bulk("across many packets");
  EXPECT_EQ(client.receive_exactly(replies.size(), kReplyTimeout).data, replies);
}

TEST_F(CounterServer, AnswersInlineCommandsFromNetcat) {
  const std::string command =
      "printf 'SET greeting hello\\r\\nGET greeting\\nINCR hits\\r\\n' | "
      "nc -q1 127.0.0.1 " +
      std::to_string(server().tcp_port());
  const CommandResult result = run_shell(command, kReplyTimeout);
  EXPECT_EQ(result.exit_code, std::optional<int>(0)) << result.err;
  EXPECT_EQ(result.out, "+OK\r\n$5\r\nhello\r\n:1\r\n");
}

TEST_F(CounterServer, SplitsInlineArgumentsAtSpacesOutsideQuotes) {
  TcpClient client(server().tcp_port());
  client.send_all("SET \"two words\" 'it\\'s'\r\n");
  client.send_all(resp_request({"GET", "two words"}));
  const std::string replies = "+OK\r\n" + resp_bulk("it's");
  EXPECT_EQ(client.receive_exactly(replies.size(), kReplyTimeout).data, replies);
}

TEST_F(CounterServer, RejectsABadArrayLengthWithAProtocolErrorAndCloses) {
  TcpClient client(server().tcp_port());
  client.send_all("*x\r\n");
  const Received reply = client.receive_until_closed(kReplyTimeout);
  EXPECT_EQ(reply.data, "-ERR Protocol error: invalid multibulk length\r\n");
  EXPECT_TRUE(reply.closed);
}

TEST_F(CounterServer, RejectsABadBulkLengthWithAProtocolErrorAndCloses) {
  TcpClient client(server().tcp_port());
  client.send_all("*1\r\n$abc\r\n");
  const Received reply = client.receive_until_closed(kReplyTimeout);
  EXPECT_EQ(reply.data, "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_TRUE(reply.closed);
}

TEST_F(CounterServer, KeepsServingOtherClientsAfterAProtocolError) {
  TcpClient earlier(server().tcp_port());
  earlier.send_all(resp_request({"SET", "kept", "yes"}));
  ASSERT_EQ(earlier.receive_exactly(5, kReplyTimeout).data, "+OK\r\n");

  TcpClient bad(server().tcp_port());
  bad.send_all("*1\r\nPING\r\n");
  const Received error = bad.receive_until_closed(kReplyTimeout);
  ASSERT_EQ(error.data, "-ERR Protocol error: expected '$', got 'P'\r\n");
  ASSERT_TRUE(error.closed);

  earlier.send_all(resp_request({"PING"}));
  EXPECT_EQ(earlier.receive_exactly(7, kReplyTimeout).data, "+PONG\r\n");
  TcpClient later(server().tcp_port());
  later.send_all(resp_request({"GET", "kept"}));
  EXPECT_EQ(later.receive_exactly(9, kReplyTimeout).data, resp_bulk("yes"));
}

TEST_F(CounterServer, RejectsARequestBiggerThanItsInputBufferAndCloses) {
  TcpClient client(server().tcp_port());
  const Received reply =
      client.exchange("SET big " + std::string(20000, 'x') + "\r\n", 1000, kReplyTimeout);
  EXPECT_EQ(reply.data, "-ERR Protocol error: request bigger than the 16384-byte input buffer\r\n");
  EXPECT_TRUE(reply.closed);
}

TEST_F(CounterServer, QuitRepliesOkAndClosesBeforeLaterRequests) {
  TcpClient client(server().tcp_port());
  client.send_all(resp_request({"QUIT"}) + resp_request({"PING"}));
  const Received reply = client.receive_until_closed(kReplyTimeout);
  EXPECT_EQ(reply.data, "+OK\r\n");
  EXPECT_TRUE(reply.closed);
}

TEST_F(CounterServer, SixtyFourOpenConnectionsIncrementOneKeyWithoutLoss) {
  constexpr int kClients = 64;
  constexpr int kIncrementsPerClient = 50;
  // All connect first, so that all sixty-four connections are open at once.
  std::vector<std::unique_ptr<TcpClient>> clients;
  for (int i = 0; i < kClients; i++) {
    clients.push_back(std::make_unique<TcpClient>(server().tcp_port()));
  }
  std::vector<int> replies(kClients, 0);
  std::vector<std::thread> threads;
  const std::string incr = resp_request({"INCR", "shared"});
  for (int i = 0; i < kClients; i++) {
    threads.emplace_back([&, i] {
      for (int n = 0; n < kIncrementsPerClient; n++) {
        clients[i]->send_all(incr);
        const Received reply = clients[i]->receive_line(kReplyTimeout);
        if (reply.data.empty() || reply.data[0] != ':') return;
        replies[i]++;
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kClients; i++) {
    EXPECT_EQ(replies[i], kIncrementsPerClient) << "client " << i << " missed replies";
  }
  TcpClient check(server().tcp_port());
  const std::string expected = resp_bulk(std::to_string(kClients * kIncrementsPerClient));
  check.send_all(resp_request({"GET", "shared"}));
  EXPECT_EQ(check.receive_exactly(expected.size(), kReplyTimeout).data, expected);
}

TEST_F(CounterServer, TurnsAwayAClientBeyondItsTwoHundredFiftySixSlotsWithAnError) {
  constexpr int kSlots = 256;  // CLIENTS_MAX in examples/counter/clients.h
  std::vector<std::unique_ptr<TcpClient>> clients;
  for (int i = 0; i < kSlots; i++) {
    // A reply proves the guest has given this connection a slot before the next one opens.
    clients.push_back(std::make_unique<TcpClient>(server().tcp_port()));
    clients.back()->send_all(resp_request({"PING"}));
    ASSERT_EQ(clients.back()->receive_exactly(7, kReplyTimeout).data, "+PONG\r\n") << i;
  }
  TcpClient turned_away(server().tcp_port());
  const Received refusal = turned_away.receive_until_closed(kReplyTimeout);
  EXPECT_EQ(refusal.data, "-ERR max number of clients reached\r\n");
  EXPECT_TRUE(refusal.closed);

  // QUIT frees a slot before the guest closes the connection, so the EOF proves it is free.
  clients.front()->send_all(resp_request({"QUIT"}));
  ASSERT_TRUE(clients.front()->receive_until_closed(kReplyTimeout).closed);
  TcpClient admitted(server().tcp_port());
  admitted.send_all(resp_request({"PING"}));
  EXPECT_EQ(admitted.receive_exactly(7, kReplyTimeout).data, "+PONG\r\n");
}

// The store's limits (examples/counter/store.h): 4096 keys, keys and values of 512 bytes.
constexpr int kStoreKeys = 4096;
constexpr size_t kMaxKeyBytes = 512;
constexpr size_t kMaxValueBytes = 512;

std::string full_size_key(int i) {
  std::string key = "key:" + std::to_string(i) + ":";
  return key + std::string(kMaxKeyBytes - key.size(), 'k');
}

std::string full_size_value(int i) {
  std::string value = "value:" + std::to_string(i) + ":";
  return value + std::string(kMaxValueBytes - value.size(), static_cast<char>('a' + i % 26));
}

// Sets kStoreKeys keys of the largest size through client; true if every SET succeeded.
bool fill_store(TcpClient& client) {
  std::string requests, replies;
  for (int i = 0; i < kStoreKeys; i++) {
    requests += resp_request({"SET", full_size_key(i), full_size_value(i)});
    replies += "+OK\r\n";
  }
  return client.exchange(requests, replies.size(), kReplyTimeout).data == replies;
}

TEST_F(CounterServer, KeepsFourThousandNinetySixKeysAndValuesOfFiveHundredTwelveBytes) {
  TcpClient client(server().tcp_port());
  ASSERT_TRUE(fill_store(client));
  std::string requests, replies;
  for (int i = 0; i < kStoreKeys; i++) {
    requests += resp_request({"GET", full_size_key(i)});
    replies += resp_bulk(full_size_value(i));
  }
  const Received got = client.exchange(requests, replies.size(), kReplyTimeout);
  EXPECT_EQ(got.data.size(), replies.size());
  EXPECT_TRUE(got.data == replies) << "some values came back changed";
}

TEST_F(CounterServer, RefusesNewKeysWhenFullAndKeepsServing) {
  TcpClient client(server().tcp_port());
  ASSERT_TRUE(fill_store(client));
  const std::string full = "-ERR the store is full: it holds at most 4096 keys\r\n";
  const std::string requests =
      resp_request({"SET", "one too many", "x"}) + resp_request({"INCR", "one too many"}) +
      resp_request({"SET", full_size_key(7), "replaced"}) +
      resp_request({"DEL", full_size_key(8)}) + resp_request({"SET", "one too many", "now fits"}) +
      resp_request({"GET", "one too many"});
  const std::string replies =
      full + full + "+OK\r\n" + resp_integer(1) + "+OK\r\n" + resp_bulk("now fits");
  EXPECT_EQ(client.exchange(requests, replies.size(), kReplyTimeout).data, replies);
}

TEST_F(CounterServer, RejectsKeysAndValuesLongerThanFiveHundredTwelveBytes) {
  TcpClient client(server().tcp_port());
  const std::string requests = resp_request({"SET", std::string(kMaxKeyBytes + 1, 'k'), "v"}) +
                               resp_request({"SET", "k", std::string(kMaxValueBytes + 1, 'v')});
  const std::string replies =
      "-ERR key is longer than 512 bytes\r\n-ERR value is longer than 512 bytes\r\n";
  EXPECT_EQ(client.exchange(requests, replies.size(), kReplyTimeout).data, replies);
}

TEST(CounterGuest, ExitsWithAnErrorWhenRamIsTooSmallForItsTables) {
  VmftProcess vmft("counter", {"--mem", "1M", "--tcp", "127.0.0.1:0"});
  const auto exit_code = vmft.wait_for_exit(GuestServer::kStartTimeout);
  EXPECT_EQ(exit_code, std::optional<int>(1)) << vmft.log();
  EXPECT_NE(vmft.console().find("counter: RAM too small"), std::string::npos) << vmft.console();
}

}  // namespace
}  // namespace vmft::integration
