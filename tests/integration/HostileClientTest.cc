// Clients that do not play by the rules, against the counter under `vmft run`: random bytes,
// datagrams of every size, more connections than the guest has slots, a very long pipeline.
// Well-behaved clients keep their answers, vmft's memory stays bounded, and the guest's limits
// show as clear errors. After each test the fixture checks that vmft stops cleanly.
#include <gtest/gtest.h>

#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "CounterServerTest.h"
#include "NetClients.h"
#include "VmftProcess.h"

namespace vmft::integration {
namespace {

// vmft's resident memory may grow to this while it is being flooded: 64 MiB of guest RAM,
// Unicorn's translation cache, and the host's bounded per-connection buffers, with room.
constexpr uint64_t kMaxResident = VmftProcess::resident_allowance(300u << 20);

std::string random_bytes(std::mt19937& random, size_t n) {
  std::string bytes(n, '\0');
  for (char& c : bytes) c = static_cast<char>(random());
  return bytes;
}

// A well-behaved client's INCR over TCP is answered with the next value.
void expect_incr_served(uint16_t tcp_port, const std::string& key, long long expected) {
  TcpClient client(tcp_port);
  client.send_all("INCR " + key + "\r\n");
  EXPECT_EQ(client.receive_line(kReplyTimeout).data, ":" + std::to_string(expected) + "\r\n");
}

class HostileClients : public CounterServer {};

TEST_F(HostileClients, RandomBytesAndDatagramsOfEverySizeLeaveOthersServed) {
  std::mt19937 random(7);
  uint64_t peak = 0;
  {
    std::vector<std::unique_ptr<TcpClient>> garbage;
    for (int i = 0; i < 32; ++i) {
      garbage.push_back(std::make_unique<TcpClient>(server().tcp_port()));
      try {
        garbage.back()->send_all(random_bytes(random, 64 * 1024));
      } catch (const std::runtime_error&) {
        // The guest may close a connection whose input can never be a request.
      }
    }
    UdpClient datagrams;
    for (size_t size : {size_t{0}, size_t{1}, size_t{1000}, size_t{65000}, size_t{65507}}) {
      datagrams.send_to(server().udp_port(), random_bytes(random, size));
    }
    for (int i = 1; i <= 100; ++i) expect_incr_served(server().tcp_port(), "good", i);
    peak = server().vmft().resident_bytes().value_or(0);
  }
  UdpClient good;
  good.send_to(server().udp_port(), "INCR good\r\n");
  EXPECT_EQ(good.receive(kReplyTimeout), ":101\r\n") << server().diagnostics();
  EXPECT_LT(peak, kMaxResident);
}

// The guest has 256 client slots: connections beyond them are told so and closed, and once
// the others go, new clients are served again. (Idle connections keep their slots: the guest
// has no idle timeout, a limit the README states.)
TEST_F(HostileClients, MoreConnectionsThanSlotsAreRefusedClearly) {
  constexpr int kConnections = 400;
  std::vector<std::unique_ptr<TcpClient>> crowd;
  for (int i = 0; i < kConnections; ++i) {
    crowd.push_back(std::make_unique<TcpClient>(server().tcp_port()));
  }
  // Slots go in the order the connections were accepted: the last ones are refused.
  for (int i = 256; i < kConnections; ++i) {
    EXPECT_EQ(crowd[i]->receive_line(kReplyTimeout).data, "-ERR max number of clients reached\r\n")
        << "connection " << i << "\n"
        << server().diagnostics();
    if (HasFailure()) break;
  }
  crowd.clear();
  // The guest hears the closes as inputs; a new client gets a slot once they are through.
  for (int attempt = 0;; ++attempt) {
    TcpClient client(server().tcp_port());
    client.send_all("INCR k\r\n");
    const std::string reply = client.receive_line(kReplyTimeout).data;
    if (reply == ":1\r\n") break;
    ASSERT_EQ(reply, "-ERR max number of clients reached\r\n");
    ASSERT_LT(attempt, 100) << "the slots never came free\n" << server().diagnostics();
  }
}

// 100,000 INCRs in one write, read as they come: every reply, in order, none lost.
TEST_F(HostileClients, AVeryLongPipelineIsAnsweredInOrder) {
  constexpr int kRequests = 100000;
  TcpClient client(server().tcp_port());
  std::string requests;
  for (int i = 0; i < kRequests; ++i) requests += "INCR p\r\n";
  std::thread writer([&] { client.send_all(requests); });
  std::string replies;
  for (int i = 1; i <= kRequests; ++i) {
    const Received line = client.receive_line(kReplyTimeout);
    if (line.data != ":" + std::to_string(i) + "\r\n") {
      ADD_FAILURE() << "reply " << i << " was '" << line.data << "'";
      break;
    }
  }
  writer.join();
  EXPECT_LT(server().vmft().resident_bytes().value_or(0), kMaxResident);
}

}  // namespace
}  // namespace vmft::integration
