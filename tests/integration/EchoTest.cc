// The echo example guest (examples/echo) under a real `vmft run`: RFC 862 on UDP and TCP.
#include <gtest/gtest.h>

#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "GuestServer.h"
#include "NetClients.h"

namespace vmft::integration {
namespace {

class EchoServer : public GuestServerTest {
 protected:
  EchoServer() : GuestServerTest("echo") {}
};

// Bytes that differ with the seed and across the whole range, so a reordered, duplicated,
// dropped or cross-connection chunk cannot go unnoticed.
std::string pattern(size_t size, uint32_t seed) {
  std::mt19937 random(seed);
  std::string bytes(size, '\0');
  for (char& byte : bytes) byte = static_cast<char>(random());
  return bytes;
}

TEST_F(EchoServer, ReturnsEachUdpDatagramToItsSender) {
  UdpClient client;
  for (size_t size : {1, 5, 512, 1400, 9000, 60000}) {
    const std::string datagram = pattern(size, static_cast<uint32_t>(size));
    client.send_to(server().udp_port(), datagram);
    const auto echoed = client.receive(kReplyTimeout);
    ASSERT_TRUE(echoed) << "no echo of the " << size << "-byte datagram";
    EXPECT_EQ(*echoed, datagram) << "the " << size << "-byte datagram came back changed";
  }
}

TEST_F(EchoServer, ReturnsUdpDatagramsToTheClientThatSentThem) {
  UdpClient first, second;
  for (int round = 0; round < 4; round++) {
    const std::string to_first = "first " + std::to_string(round);
    const std::string to_second = "second " + std::to_string(round);
    first.send_to(server().udp_port(), to_first);
    second.send_to(server().udp_port(), to_second);
    EXPECT_EQ(first.receive(kReplyTimeout), to_first);
    EXPECT_EQ(second.receive(kReplyTimeout), to_second);
  }
}

TEST_F(EchoServer, DisconnectsAClientThatNeverReadsItsReplies) {
  TcpClient greedy(server().tcp_port());
  const std::string chunk = pattern(1 << 20, 7);
  // Past 16 MiB of unread replies (plus what the kernel buffers) vmft drops the client; from
  // then on its sends fail. 64 MiB bounds the loop if that never happens.
  bool dropped = false;
  for (int i = 0; i < 64 && !dropped; i++) {
    try {
      greedy.send_all(chunk);
    } catch (const std::runtime_error&) {
      dropped = true;
    }
  }
  EXPECT_TRUE(server().vmft().wait_for_log("does not read; disconnecting it", kReplyTimeout))
      << server().diagnostics();
  TcpClient polite(server().tcp_port());
  EXPECT_EQ(polite.exchange("still here", 10, kReplyTimeout).data, "still here");
}

TEST_F(EchoServer, EchoesAOneMebibyteTcpStream) {
  const std::string stream = pattern(1 << 20, 1);
  TcpClient client(server().tcp_port());
  const Received echoed = client.exchange(stream, stream.size(), kReplyTimeout * 3);
  ASSERT_EQ(echoed.data.size(), stream.size()) << "closed early: " << echoed.closed;
  EXPECT_TRUE(echoed.data == stream) << "the echoed stream differs from what was sent";
}

TEST_F(EchoServer, ClosesTheConnectionAfterThePeerCloses) {
  TcpClient client(server().tcp_port());
  client.send_all("last words");
  client.shutdown_write();
  const Received rest = client.receive_until_closed(kReplyTimeout);
  EXPECT_EQ(rest.data, "last words");
  EXPECT_TRUE(rest.closed) << "the server did not close its side";
}

TEST_F(EchoServer, EchoesSixteenConcurrentTcpClientsSeparately) {
  constexpr int kClients = 16;
  constexpr size_t kBytesPerClient = 256 << 10;
  // All connect before any sends, so that all sixteen are open at once.
  std::vector<std::unique_ptr<TcpClient>> clients;
  for (int i = 0; i < kClients; i++) {
    clients.push_back(std::make_unique<TcpClient>(server().tcp_port()));
  }
  std::vector<std::string> sent(kClients), echoed(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; i++) {
    sent[i] = pattern(kBytesPerClient, 100 + i);
    threads.emplace_back([&, i] {
      echoed[i] = clients[i]->exchange(sent[i], kBytesPerClient, kReplyTimeout * 3).data;
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int i = 0; i < kClients; i++) {
    EXPECT_EQ(echoed[i].size(), kBytesPerClient) << "client " << i;
    EXPECT_TRUE(echoed[i] == sent[i]) << "client " << i << " got other bytes back";
  }
}

TEST(EchoGuest, StopsWithExitCodeZeroOnSigterm) {
  GuestServer server("echo");
  EXPECT_EQ(server.stop(), std::optional<int>(0)) << server.diagnostics();
}

}  // namespace
}  // namespace vmft::integration
