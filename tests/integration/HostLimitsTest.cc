// The host's limits on TCP clients, against the counter: --max-connections refuses the excess
// with a clear error while the clients it took keep being served; --idle-timeout closes
// connections that say nothing (a half-open connection is one whose peer vanished: the host
// sees it exactly so), and their slots come free; --max-unread-bytes cuts a client that never
// reads its replies, and vmft's memory stays bounded. Under a pair, the closes the primary's
// host decides reach the backup as logged inputs: it replays them in step, to the end or to a
// takeover with the counter intact.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "CounterChecks.h"
#include "CounterServerTest.h"
#include "FreePort.h"
#include "NetClients.h"
#include "PairProcesses.h"
#include "TestArbiter.h"

namespace vmft::integration {
namespace {

using Clock = std::chrono::steady_clock;

/// How long a test waits for anything that should happen. Generous, because a loaded CI
/// machine may be slow; a passing test never waits this long.
constexpr Duration kTimeout{10000};

// What a client refused for --max-connections reads (devices::kTooManyConnections).
const std::string kHostRefusal = "-ERR vmft: too many connections\r\n";
// What the counter guest tells a client when its 256 slots are taken.
const std::string kGuestFull = "-ERR max number of clients reached\r\n";
constexpr int kGuestSlots = 256;

// vmft's resident memory may grow to this while it is being flooded: 64 MiB of guest RAM,
// Unicorn's translation cache, and the host's bounded per-connection buffers, with room.
constexpr uint64_t kMaxResident = VmftProcess::resident_allowance(300u << 20);

// `command` on a new connection, again and again while the host or the guest refuses the
// connection (closes reach the guest as inputs it takes a moment to act on, and only then does
// the host let its socket go), until the reply is something else or kTimeout passes. Returns
// the last reply line.
std::string first_reply_once_admitted(uint16_t port, const std::string& command) {
  const auto deadline = Clock::now() + kTimeout;
  std::string reply;
  do {
    try {
      TcpClient client(port);
      reply = counter_command(client, command);
    } catch (const std::runtime_error& e) {
      return std::string("no connection: ") + e.what();
    }
    if (reply != kHostRefusal && reply != kGuestFull) break;
  } while (Clock::now() < deadline);
  return reply;
}

// Opens `n` connections that never send a byte.
std::vector<std::unique_ptr<TcpClient>> silent_clients(uint16_t port, int n) {
  std::vector<std::unique_ptr<TcpClient>> clients;
  for (int i = 0; i < n; ++i) clients.push_back(std::make_unique<TcpClient>(port));
  return clients;
}

// Each of `clients` sees its connection closed by the other end, having received nothing or,
// if `guest_full` is allowed, the guest's refusal. Returns how many got that refusal.
int expect_closed(std::vector<std::unique_ptr<TcpClient>>& clients, bool guest_full_allowed,
                  const std::string& diagnostics) {
  int refused = 0;
  for (size_t i = 0; i < clients.size(); ++i) {
    const Received r = clients[i]->receive_until_closed(kTimeout);
    EXPECT_TRUE(r.closed) << "connection " << i << " is still open\n" << diagnostics;
    if (guest_full_allowed && r.data == kGuestFull) {
      ++refused;
    } else {
      EXPECT_EQ(r.data, "") << "connection " << i << "\n" << diagnostics;
    }
    if (::testing::Test::HasFailure()) break;
  }
  return refused;
}

// ------------------------------------------------------------------ --max-connections

class MaxConnections : public GuestServerTest {
 protected:
  MaxConnections() : GuestServerTest("counter", {"--max-connections", "8"}) {}
};

TEST_F(MaxConnections, RefusesTheExcessClearlyWhileTheOthersAreServed) {
  const uint16_t port = server().tcp_port();
  std::vector<std::unique_ptr<TcpClient>> admitted;
  for (int i = 1; i <= 8; ++i) {
    admitted.push_back(std::make_unique<TcpClient>(port));
    ASSERT_EQ(counter_command(*admitted.back(), "INCR k"), ":" + std::to_string(i) + "\r\n")
        << server().diagnostics();
  }
  // One that waits to be spoken to, and one that speaks first, as redis-cli does: both read
  // the refusal, and the end of the connection.
  TcpClient waits(port);
  const Received waited = waits.receive_until_closed(kTimeout);
  EXPECT_EQ(waited.data, kHostRefusal) << server().diagnostics();
  EXPECT_TRUE(waited.closed);
  TcpClient speaks(port);
  EXPECT_EQ(counter_command(speaks, "INCR k"), kHostRefusal) << server().diagnostics();
  EXPECT_TRUE(server().vmft().wait_for_log("all that --max-connections allows", kTimeout))
      << server().diagnostics();

  // The refused never reached the guest: the admitted count on from 8.
  for (int i = 0; i < 8; ++i) {
    EXPECT_EQ(counter_command(*admitted[i], "INCR k"), ":" + std::to_string(9 + i) + "\r\n")
        << server().diagnostics();
  }
  // One leaves; a newcomer gets its place once the guest has closed it.
  admitted.pop_back();
  EXPECT_EQ(first_reply_once_admitted(port, "INCR k"), ":17\r\n") << server().diagnostics();
}

// ------------------------------------------------------------------ --idle-timeout

class IdleTimeout : public GuestServerTest {
 protected:
  IdleTimeout() : GuestServerTest("counter", {"--idle-timeout", "2"}) {}
};

// Without the timeout, connections that say nothing keep the guest's slots for ever
// (HostileClients.MoreConnectionsThanSlotsAreRefusedClearly).
TEST_F(IdleTimeout, ClosesConnectionsThatSayNothingAndTheirSlotsComeFree) {
  const uint16_t port = server().tcp_port();
  std::vector<std::unique_ptr<TcpClient>> silent;
  ASSERT_NO_THROW(silent = silent_clients(port, kGuestSlots)) << server().diagnostics();
  expect_closed(silent, false, server().diagnostics());
  EXPECT_TRUE(server().vmft().wait_for_log("(--idle-timeout)", kTimeout)) << server().diagnostics();
  EXPECT_EQ(first_reply_once_admitted(port, "INCR k"), ":1\r\n") << server().diagnostics();
}

// ------------------------------------------------------------------ --max-unread-bytes

class MaxUnreadBytes : public GuestServerTest {
 protected:
  MaxUnreadBytes() : GuestServerTest("counter", {"--max-unread-bytes", "1M"}) {}
};

TEST_F(MaxUnreadBytes, CutsAClientThatNeverReadsAndMemoryStaysBounded) {
  const uint16_t port = server().tcp_port();
  // 2000 ECHOs of 8000 bytes: 16 MB of replies, far beyond the kernel's socket buffers (a few
  // MB on loopback) plus the 1 MiB the host may hold.
  constexpr int kRequests = 2000;
  const std::string value(8000, 'v');
  const std::string request = "*2\r\n$4\r\nECHO\r\n$8000\r\n" + value + "\r\n";
  std::string requests;
  for (int i = 0; i < kRequests; ++i) requests += request;

  TcpClient hog(port, /*receive_buffer=*/4096);
  std::thread writer([&] {
    try {
      hog.send_all(requests);
    } catch (const std::runtime_error&) {
      // The host cut the connection while the rest was on its way.
    }
  });
  const bool cut = server().vmft().wait_for_log("--max-unread-bytes", kTimeout);
  const uint64_t resident = server().vmft().resident_bytes().value_or(0);
  writer.join();
  ASSERT_TRUE(cut) << server().diagnostics();
  const Received rest = hog.receive_until_closed(kTimeout);
  EXPECT_TRUE(rest.closed);
  EXPECT_LT(rest.data.size(), kRequests * value.size()) << "the client got every reply";
  EXPECT_LT(resident, kMaxResident);
  EXPECT_EQ(first_reply_once_admitted(port, "INCR k"), ":1\r\n") << server().diagnostics();
}

// ------------------------------------------------------------------ under a pair

// Both sides get the same limits: the primary's host applies them while the pair runs, the
// backup's only once it goes live. A loaded machine must not break the pair by a peer timeout:
// a killed primary's backup learns of it from the closed channel anyway.
const std::vector<std::string> kPairOptions = {"--idle-timeout", "2", "--peer-timeout", "20000"};

// The closes are inputs the primary logged: the backup's guest takes them at the same
// instructions, so every output and state digest matches to the end.
TEST(HostLimitsInAPair, TheBackupReplaysIdleClosesToTheEnd) {
  PairSpec spec;
  spec.guest = "counter";
  spec.ready_line = "counter: ready\n";
  spec.options = kPairOptions;
  PairProcesses pair(spec);
  pair.pair();
  // More than the guest has slots: those beyond are refused by the guest, in its own words
  // (unless slots came free first), and the guest's refusals are outputs the backup checks.
  constexpr int kExtra = 16;
  std::vector<std::unique_ptr<TcpClient>> silent;
  ASSERT_NO_THROW(silent = silent_clients(pair.tcp_port(), kGuestSlots + kExtra))
      << pair.diagnostics();
  EXPECT_LE(expect_closed(silent, true, pair.diagnostics()), kExtra);
  EXPECT_EQ(first_reply_once_admitted(pair.tcp_port(), "INCR k"), ":1\r\n") << pair.diagnostics();
  EXPECT_EQ(pair.backup().log().find("--idle-timeout"), std::string::npos)
      << "the backup decided a close by its own clock\n"
      << pair.diagnostics();

  const PairProcesses::Exits exits = pair.stop();
  EXPECT_EQ(exits.primary, std::optional<int>(0)) << pair.diagnostics();
  EXPECT_EQ(exits.backup, std::optional<int>(0)) << pair.diagnostics();
  EXPECT_NE(pair.backup().log().find("reproduced the primary's run to its end"), std::string::npos)
      << pair.diagnostics();
}

// After the primary's host closed idle connections, the primary dies: the backup, which
// replayed those closes, takes over with the counter where the clients left it, and serves.
TEST(HostLimitsInAPair, TheBackupTakesOverAfterIdleClosesWithTheCounterIntact) {
  const uint16_t tcp_port = unused_port(SOCK_STREAM);
  const auto arbiter = TestArbiter::start(ArbiterKind::kBuiltIn);
  PairSpec spec;
  spec.guest = "counter";
  spec.udp = spec.tcp = false;  // in spec.options, on a port fixed for both sides
  spec.ready_line = "counter: ready\n";
  spec.options = {"--tcp", "127.0.0.1:" + std::to_string(tcp_port), "--arbiter",
                  arbiter->address()};
  spec.options.insert(spec.options.end(), kPairOptions.begin(), kPairOptions.end());
  PairProcesses pair(spec);
  pair.pair();
  ASSERT_TRUE(pair.primary().wait_for_event("registered", {{"epoch", 1}}, kTimeout))
      << pair.diagnostics();

  EXPECT_EQ(first_reply_once_admitted(tcp_port, "INCR k"), ":1\r\n") << pair.diagnostics();
  std::vector<std::unique_ptr<TcpClient>> silent;
  ASSERT_NO_THROW(silent = silent_clients(tcp_port, kGuestSlots)) << pair.diagnostics();
  expect_closed(silent, false, pair.diagnostics());
  EXPECT_EQ(first_reply_once_admitted(tcp_port, "INCR k"), ":2\r\n") << pair.diagnostics();

  pair.primary().kill();
  ASSERT_TRUE(pair.backup().wait_for_event("went_live", {{"epoch", 1}}, kTimeout))
      << pair.diagnostics();
  EXPECT_EQ(first_reply_once_admitted(tcp_port, "INCR k"), ":3\r\n") << pair.diagnostics();
  EXPECT_EQ(pair.backup().wait_for_exit(Duration(0)), std::nullopt) << pair.diagnostics();
}

}  // namespace
}  // namespace vmft::integration
