// `vmft primary` and `vmft backup` as real processes on 127.0.0.1: the output rule, the backup
// reproducing the primary's run, the bounds on lag and memory, a backup slower than its
// primary, the handshake, a lost peer, and bad command lines.
#include <gtest/gtest.h>
#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <atomic>
#include <exception>
#include <functional>
#include <random>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "NetClients.h"
#include "PairProcesses.h"
#include "RespText.h"
#include "ShellCommand.h"
#include "vmft/ft/ExitCodes.h"

namespace vmft::integration {
namespace {

using Clock = std::chrono::steady_clock;

/// How long a test waits for anything that should happen. Generous, because a loaded CI
/// machine may be slow; a passing test never waits this long.
constexpr Duration kTimeout{10000};
/// How long a test watches for something that must not happen. Short, to keep tests fast:
/// the positive checks around each such wait carry the weight.
constexpr Duration kAbsence{300};

// A pair of a server guest with both sockets, ready once it prints "<guest>: ready".
PairSpec server_pair(const std::string& guest) {
  PairSpec spec;
  spec.guest = guest;
  spec.ready_line = guest + ": ready\n";
  return spec;
}

PairSpec counter_pair() { return server_pair("counter"); }

// A pair of a guest with no sockets, which exits on its own.
PairSpec batch_pair(const std::string& guest) {
  PairSpec spec;
  spec.guest = guest;
  spec.udp = false;
  spec.tcp = false;
  return spec;
}

// A pair whose sides wait 20 s before they count the other as gone: a frozen backup then
// holds outputs instead of breaking the pair. The primary reports held outputs often. Its
// guest runs however far the backup lags (no --max-lag bound): a backup frozen while still
// replaying the counter's start (its tables are zeroed, 38M instructions) would otherwise
// hold the guest itself, before it answers, on a slow (sanitized, loaded) machine.
PairSpec patient_counter_pair() {
  PairSpec spec = counter_pair();
  spec.options = {"--peer-timeout", "20000"};
  spec.primary_options = {"--status-interval", "0.05", "--max-lag", "0", "--max-lag-time", "0"};
  return spec;
}

std::optional<uint64_t> last_number(const std::string& text, const std::string& pattern) {
  const std::regex re(pattern);
  std::optional<uint64_t> last;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator();
       ++it) {
    last = std::stoull((*it)[1].str());
  }
  return last;
}

// Both sides exited 0 and the backup reached the very instruction the primary ended at, with
// every input, output and digest matched on the way.
void expect_reproduced(PairProcesses& pair, const PairProcesses::Exits& exits) {
  EXPECT_EQ(exits.primary, std::optional<int>(0)) << pair.diagnostics();
  EXPECT_EQ(exits.backup, std::optional<int>(0)) << pair.diagnostics();
  const auto primary_end = last_number(pair.primary().log(), R"(after (\d+) instructions)");
  const auto backup_end = last_number(
      pair.backup().log(), R"(reproduced the primary's run to its end at instruction (\d+))");
  ASSERT_TRUE(primary_end && backup_end) << pair.diagnostics();
  EXPECT_EQ(*backup_end, *primary_end) << pair.diagnostics();
}

// One inline counter command on a connection, and its one-line reply.
std::string counter_command(TcpClient& client, const std::string& command) {
  client.send_all(command + "\r\n");
  return client.receive_line(kTimeout).data;
}

std::string redis_cli(uint16_t port, const std::string& args) {
  const auto r = run_shell("redis-cli --no-raw -p " + std::to_string(port) + " " + args, kTimeout);
  EXPECT_EQ(r.exit_code, std::optional<int>(0)) << args << "\n" << r.err;
  return r.out;
}

// ------------------------------------------------------------------ the output rule

TEST(Pair, OutputRuleHoldsTcpRepliesWhileTheBackupIsFrozen) {
  PairProcesses pair(patient_counter_pair());
  pair.pair();
  TcpClient client(pair.tcp_port());
  ASSERT_EQ(counter_command(client, "INCR held"), ":1\r\n") << pair.diagnostics();

  ASSERT_TRUE(pair.backup().freeze(kTimeout));
  const size_t log_before = pair.primary().log().size();
  client.send_all("INCR held\r\n");
  // The guest has answered: its reply waits in the output gate, not in the guest.
  EXPECT_TRUE(pair.primary().wait_for_log("outputs held 1,", log_before, kTimeout))
      << pair.diagnostics();
  EXPECT_EQ(client.receive_line(kAbsence).data, "") << "a reply left before the backup had the log";

  pair.backup().thaw();
  EXPECT_EQ(client.receive_line(kTimeout).data, ":2\r\n") << pair.diagnostics();
  expect_reproduced(pair, pair.stop());
}

TEST(Pair, OutputRuleHoldsUdpRepliesWhileTheBackupIsFrozen) {
  PairProcesses pair(patient_counter_pair());
  pair.pair();
  UdpClient client;
  client.send_to(pair.udp_port(), "INCR held");
  ASSERT_EQ(client.receive(kTimeout), ":1\r\n") << pair.diagnostics();

  ASSERT_TRUE(pair.backup().freeze(kTimeout));
  const size_t log_before = pair.primary().log().size();
  client.send_to(pair.udp_port(), "INCR held");
  EXPECT_TRUE(pair.primary().wait_for_log("outputs held 1,", log_before, kTimeout))
      << pair.diagnostics();
  EXPECT_EQ(client.receive(kAbsence), std::nullopt) << "a reply left before the backup had the log";

  pair.backup().thaw();
  EXPECT_EQ(client.receive(kTimeout), ":2\r\n") << pair.diagnostics();
  expect_reproduced(pair, pair.stop());
}

// ------------------------------------------------------------------ reproduction

// Runs `work(i)` on `n` threads at once; returns the first exception any of them threw.
std::exception_ptr run_threads(int n, const std::function<void(int)>& work) {
  std::vector<std::thread> threads;
  std::vector<std::exception_ptr> errors(n);
  for (int i = 0; i < n; i++) {
    threads.emplace_back([&, i] {
      try {
        work(i);
      } catch (...) {
        errors[i] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) return e;
  }
  return nullptr;
}

std::string what(const std::exception_ptr& error) {
  try {
    std::rethrow_exception(error);
  } catch (const std::exception& e) {
    return e.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

TEST(Pair, BackupReproducesACounterServingManyClients) {
  constexpr int kTcpClients = 8;
  constexpr int kIncrsEach = 200;
  constexpr int kUdpIncrs = 100;
  PairProcesses pair(counter_pair());
  pair.pair();
  std::atomic<int> bad_replies{0};
  const auto error = run_threads(kTcpClients + 1, [&](int i) {
    if (i == kTcpClients) {
      UdpClient client;
      for (int n = 0; n < kUdpIncrs; n++) {
        client.send_to(pair.udp_port(), "INCR hits");
        const auto reply = client.receive(kTimeout);
        if (!reply || reply->front() != ':') bad_replies++;
      }
      return;
    }
    TcpClient client(pair.tcp_port());
    const std::string own_key = "client" + std::to_string(i);
    for (int n = 0; n < kIncrsEach; n++) {
      if (counter_command(client, "INCR hits").front() != ':') bad_replies++;
      if (n % 20 == 0 &&
          counter_command(client, "SET " + own_key + " " + std::to_string(n)) != "+OK\r\n") {
        bad_replies++;
      }
    }
  });
  ASSERT_FALSE(error) << what(error) << "\n" << pair.diagnostics();
  EXPECT_EQ(bad_replies, 0);
  EXPECT_EQ(redis_cli(pair.tcp_port(), "GET hits"),
            "\"" + std::to_string(kTcpClients * kIncrsEach + kUdpIncrs) + "\"\n");
  EXPECT_EQ(redis_cli(pair.tcp_port(), "GET client3"), "\"180\"\n");
  expect_reproduced(pair, pair.stop());
}

TEST(Pair, BackupReproducesAnEchoServer) {
  PairProcesses pair(server_pair("echo"));
  pair.pair();
  std::mt19937 random(4);
  TcpClient stream(pair.tcp_port());
  UdpClient datagrams;
  for (int i = 0; i < 50; i++) {
    const std::string payload(1 + random() % 3000, static_cast<char>('a' + i % 26));
    if (random() % 2) {
      datagrams.send_to(pair.udp_port(), payload);
      ASSERT_EQ(datagrams.receive(kTimeout), payload) << pair.diagnostics();
    } else {
      ASSERT_EQ(stream.exchange(payload, payload.size(), kTimeout).data, payload)
          << pair.diagnostics();
    }
  }
  // A close is an output too: it reaches the client once the backup has the log.
  stream.shutdown_write();
  EXPECT_TRUE(stream.receive_until_closed(kTimeout).closed) << pair.diagnostics();
  expect_reproduced(pair, pair.stop());
}

TEST(Pair, BackupReproducesAGuestThatTakesTimerInterrupts) {
  PairProcesses pair(batch_pair("timer"));
  pair.pair();
  const auto exits = pair.wait_for_exits();  // the guest exits after its third tick
  EXPECT_EQ(pair.primary().console(), "tick\ntick\ntick\n");
  expect_reproduced(pair, exits);
}

// The nondet guest reads every clock and entropy, and takes timer interrupts at a rate its
// entropy picks; every reply mixes all of that in.
TEST(Pair, BackupReproducesEveryNondeterministicSource) {
  PairProcesses pair(server_pair("nondet"));
  pair.pair();
  std::mt19937 random(11);
  UdpClient datagrams;
  for (int i = 0; i < 20; i++) {
    if (random() % 2) {
      datagrams.send_to(pair.udp_port(), "ping " + std::to_string(i));
      ASSERT_TRUE(datagrams.receive(kTimeout)) << pair.diagnostics();
    } else {
      TcpClient client(pair.tcp_port());
      client.send_all("hello " + std::to_string(i) + "\n");
      ASSERT_FALSE(client.receive_line(kTimeout).data.empty()) << pair.diagnostics();
    }
  }
  datagrams.send_to(pair.udp_port(), "quit");
  const auto exits = pair.wait_for_exits();
  expect_reproduced(pair, exits);
  const auto interrupts = last_number(pair.backup().log(), R"((\d+) interrupts)");
  EXPECT_GT(interrupts.value_or(0), 0u) << pair.backup().log();
}

// ------------------------------------------------------------------ bounds

// "primary: instruction N, log #S acknowledged #A, backup at instruction B (lag L), ..., waited
// for the backup W times"
struct PrimaryStatus {
  uint64_t instruction;
  uint64_t lag;
  uint64_t lag_waits;
};

std::vector<PrimaryStatus> primary_statuses(const std::string& log) {
  const std::regex line(
      R"(primary: instruction (\d+), .* \(lag (\d+)\), .* waited for the backup (\d+) times)");
  std::vector<PrimaryStatus> statuses;
  for (auto it = std::sregex_iterator(log.begin(), log.end(), line); it != std::sregex_iterator();
       ++it) {
    statuses.push_back(
        {std::stoull((*it)[1].str()), std::stoull((*it)[2].str()), std::stoull((*it)[3].str())});
  }
  return statuses;
}

// The crunch guest computes for 900M instructions with no input, under a primary that
// reports its status every 0.1 s.
PairSpec crunch_pair() {
  PairSpec spec = batch_pair("crunch");
  spec.primary_options = {"--status-interval", "0.1"};
  return spec;
}

TEST(Pair, BackupReproducesACpuBoundGuestAndThePrimaryReportsItsProgress) {
  PairProcesses pair(crunch_pair());
  pair.pair();
  expect_reproduced(pair, pair.wait_for_exits());
  const auto statuses = primary_statuses(pair.primary().log());
  ASSERT_GE(statuses.size(), 2u) << "too few status lines while the guest ran\n"
                                 << pair.diagnostics();
  EXPECT_LT(statuses.front().instruction, statuses.back().instruction) << pair.diagnostics();
}

// The slowest backup is a frozen one: the crunch guest logs nothing but progress marks, so only
// the bound in instructions holds the primary back. It checks every 2^20 instructions (when it
// sends a progress mark) how far its backup trails, and past --max-lag waits for it: the lag
// it reports stays within that bound plus a mark interval (and a block), and when the backup
// thaws both go on to the same end.
TEST(Pair, CpuBoundGuestWaitsForAFrozenBackupWithinMaxLag) {
  constexpr uint64_t kMaxLag = 8u << 20;
  constexpr uint64_t kCheckInterval = 1u << 20;
  PairSpec spec = crunch_pair();
  spec.primary_options.insert(spec.primary_options.end(), {"--max-lag", "8M"});
  spec.options = {"--peer-timeout", "20000"};  // a frozen backup is slow, not gone
  PairProcesses pair(spec);
  pair.pair();
  ASSERT_TRUE(pair.backup().freeze(kTimeout)) << pair.diagnostics();
  // Held back at --max-lag: three status lines in a row at one instruction, each after a wait
  // for the backup (a backup slowed by a loaded machine may have held the primary back
  // before, so the count of waits is not known in advance).
  const size_t frozen_from = pair.primary().log().size();
  const auto standing_still = [&](const std::string& log) {
    const auto since = primary_statuses(log.substr(std::min(frozen_from, log.size())));
    for (size_t i = 0; i + 2 < since.size(); i++) {
      if (since[i].lag_waits > 0 && since[i].instruction == since[i + 1].instruction &&
          since[i].instruction == since[i + 2].instruction) {
        return true;
      }
    }
    return false;
  };
  ASSERT_TRUE(pair.primary().wait_for_log(standing_still, kTimeout))
      << "the primary ran on while its backup was frozen\n"
      << pair.diagnostics();
  pair.backup().thaw();
  expect_reproduced(pair, pair.wait_for_exits());

  const auto statuses = primary_statuses(pair.primary().log());
  const auto worst = std::max_element(
      statuses.begin(), statuses.end(),
      [](const PrimaryStatus& a, const PrimaryStatus& b) { return a.lag < b.lag; });
  ASSERT_NE(worst, statuses.end()) << pair.diagnostics();
  EXPECT_LE(worst->lag, kMaxLag + 2 * kCheckInterval)
      << "at instruction " << worst->instruction << "\n"
      << pair.diagnostics();
}

// A datagram sent while the receiver's socket buffer is full is dropped: ask until answered.
std::optional<std::string> udp_request(uint16_t port, const std::string& request) {
  UdpClient client;
  for (int attempt = 0; attempt < 10; attempt++) {
    client.send_to(port, request);
    if (auto reply = client.receive(Duration(1000))) return reply;
  }
  return std::nullopt;
}

// 60000-byte datagrams, as fast as one thread sends them: gigabytes a second offered, far
// more than the guest echoes and the log carries. Whatever the primary took in and could not
// yet run, log or send must stay bounded; the kernel drops the rest.
TEST(Pair, PacketFloodDoesNotGrowThePrimarysMemory) {
  constexpr auto kFlood = std::chrono::seconds(2);
  // The guest's 64 MiB of RAM, Unicorn's translation cache, an 8 MiB log buffer and the
  // outputs held for it, the host's input queue (at most 1024 datagrams: it fills while the
  // primary waits for its backup, which it does when the backup trails by --max-lag-time of
  // running time), with room to spare; a queue of every datagram taken in would pass it within
  // the first second.
  constexpr uint64_t kMaxResident = VmftProcess::resident_allowance(300u << 20);
  PairProcesses pair(server_pair("echo"));
  pair.pair();
  const uint64_t before = pair.primary().resident_bytes().value_or(0);
  uint64_t peak = before;
  uint64_t sent = 0;
  {
    UdpClient flood;
    const std::string datagram(60000, 'f');
    const auto end = Clock::now() + kFlood;
    while (Clock::now() < end) {
      flood.send_to(pair.udp_port(), datagram);
      if (++sent % 64 == 0) peak = std::max(peak, pair.primary().resident_bytes().value_or(0));
    }
  }
  EXPECT_LT(peak, kMaxResident) << sent << " datagrams sent; resident before: " << before;

  // Still serving, on both protocols, and the backup has all it needs to reproduce the run.
  EXPECT_EQ(udp_request(pair.udp_port(), "after the flood"), "after the flood")
      << pair.diagnostics();
  TcpClient stream(pair.tcp_port());
  EXPECT_EQ(stream.exchange("after the flood", 15, kTimeout).data, "after the flood")
      << pair.diagnostics();
  expect_reproduced(pair, pair.stop());
}

// Sends 60000-byte datagrams to `port` for `duration` from a thread confined to `cpu`, so that
// the flood also takes that CPU from whatever else runs there.
void flood_from_cpu(uint16_t port, std::chrono::milliseconds duration, int cpu) {
  std::thread flood([&] {
    cpu_set_t one_cpu;
    CPU_ZERO(&one_cpu);
    CPU_SET(cpu, &one_cpu);
    ::pthread_setaffinity_np(pthread_self(), sizeof one_cpu, &one_cpu);
    UdpClient client;
    const std::string datagram(60000, 'f');
    const auto end = Clock::now() + duration;
    while (Clock::now() < end) client.send_to(port, datagram);
  });
  flood.join();
}

// The backup's vCPU gets a sliver of a CPU that the primary and a flood of datagrams keep
// busy, while its channel thread runs freely: its queue of received records fills up. It must
// then hold the primary back, as the bounded log buffer does, and not give up on it.
TEST(Pair, ABackupWhoseGuestFallsBehindSlowsThePrimaryInsteadOfLeavingIt) {
  if (!may_lower_niceness()) {
    GTEST_SKIP() << "cannot give the backup's vCPU its CPU back after the flood: lowering a "
                    "niceness needs CAP_SYS_NICE or a higher RLIMIT_NICE";
  }
  // Long enough that a loaded machine's scheduling does not break the pair, short enough that
  // a backup counting its own paused reading as the primary's silence (over the 2 s flood)
  // would.
  PairSpec spec = server_pair("echo");
  spec.options = {"--peer-timeout", "1000"};
  PairProcesses pair(spec);
  pair.pair();
  const int cpu = first_allowed_cpu();
  ASSERT_TRUE(pair.primary().confine(cpu, 0) && pair.backup().confine_vcpu(cpu, 19))
      << "cannot move the pair onto CPU " << cpu;
  flood_from_cpu(pair.udp_port(), std::chrono::seconds(2), cpu);

  ASSERT_EQ(pair.backup().wait_for_exit(Duration(0)), std::nullopt) << pair.diagnostics();
  ASSERT_EQ(pair.primary().wait_for_exit(Duration(0)), std::nullopt) << pair.diagnostics();
  // The backup is slow for the flood only. Left at niceness 19 beside anything else at 0 (a
  // build), it would get a percent or two of a CPU: what it still trails by, and then the
  // final state digest (hundreds of ms of CPU over a guest's untouched RAM), would take it
  // tens of seconds, past any wait below, and the pair would seem to hang.
  ASSERT_TRUE(pair.backup().release_vcpu()) << "cannot give the backup's vCPU its CPU back";
  EXPECT_EQ(udp_request(pair.udp_port(), "after the flood"), "after the flood")
      << pair.diagnostics();
  expect_reproduced(pair, pair.stop());
}

// ------------------------------------------------------------------ the handshake

// A backup started with `guest` and `options` is refused for `reason`; the primary says so,
// keeps waiting, and then pairs with a matching backup.
void expect_refused_then_pairs(PairProcesses& pair, const std::string& guest,
                               const std::vector<std::string>& options, const std::string& reason) {
  const auto wrong = pair.start_backup(guest, options);
  EXPECT_EQ(wrong->wait_for_exit(kTimeout), std::optional<int>(1)) << wrong->log();
  EXPECT_NE(wrong->log().find("refused this backup: " + reason), std::string::npos) << wrong->log();
  EXPECT_TRUE(pair.primary().wait_for_log("refused a backup from 127.0.0.1:", kTimeout))
      << pair.diagnostics();
  EXPECT_NE(pair.primary().log().find(reason), std::string::npos) << pair.diagnostics();
  EXPECT_EQ(pair.primary().wait_for_exit(Duration(0)), std::nullopt) << "the primary gave up";

  pair.pair();
  UdpClient client;
  client.send_to(pair.udp_port(), "INCR k");
  EXPECT_EQ(client.receive(kTimeout), ":1\r\n") << pair.diagnostics();
  expect_reproduced(pair, pair.stop());
}

std::vector<std::string> with_option(std::vector<std::string> options, const std::string& flag,
                                     const std::string& value) {
  const auto it = std::find(options.begin(), options.end(), flag);
  if (it == options.end()) {
    options.insert(options.end(), {flag, value});
  } else {
    *std::next(it) = value;
  }
  return options;
}

std::vector<std::string> without_option(std::vector<std::string> options, const std::string& flag) {
  const auto it = std::find(options.begin(), options.end(), flag);
  if (it != options.end()) options.erase(it, it + 2);
  return options;
}

TEST(PairHandshake, RefusesABackupOfAnotherPair) {
  PairProcesses pair(counter_pair());
  expect_refused_then_pairs(
      pair, "counter", with_option(pair.backup_options(), "--name", "other"),
      "the primary serves pair 'test-pair', the backup asked for pair 'other'");
}

TEST(PairHandshake, RefusesABackupOfAnotherGuest) {
  PairProcesses pair(counter_pair());
  expect_refused_then_pairs(pair, "echo", pair.backup_options(),
                            "the primary runs guest counter.elf");
}

TEST(PairHandshake, RefusesABackupWithOtherRam) {
  PairProcesses pair(counter_pair());
  expect_refused_then_pairs(pair, "counter", with_option(pair.backup_options(), "--mem", "32M"),
                            "the primary's guest has 67108864 bytes of RAM, the backup's 33554432");
}

TEST(PairHandshake, RefusesABackupWithoutTheSameSockets) {
  PairProcesses pair(counter_pair());
  expect_refused_then_pairs(pair, "counter", without_option(pair.backup_options(), "--tcp"),
                            "the primary's guest has udp and tcp, the backup's udp and no tcp");
}

// ------------------------------------------------------------------ a lost peer

TEST(PairLoss, BackupExitsWhenThePrimaryIsKilled) {
  PairProcesses pair(counter_pair());
  pair.pair();
  ASSERT_EQ(redis_cli(pair.tcp_port(), "INCR k"), "(integer) 1\n");
  pair.primary().kill();
  EXPECT_EQ(pair.backup().wait_for_exit(kTimeout),
            std::optional<int>(vmft::ft::kPairBrokenExitCode))
      << pair.diagnostics();
  EXPECT_TRUE(pair.backup().has_event("broken")) << pair.diagnostics();
  EXPECT_NE(pair.backup().log().find("the primary is gone"), std::string::npos)
      << pair.diagnostics();
}

TEST(PairLoss, PrimaryExitsWhenTheBackupIsKilled) {
  PairProcesses pair(counter_pair());
  pair.pair();
  ASSERT_EQ(redis_cli(pair.tcp_port(), "INCR k"), "(integer) 1\n");
  pair.backup().kill();
  EXPECT_EQ(pair.primary().wait_for_exit(kTimeout),
            std::optional<int>(vmft::ft::kPairBrokenExitCode))
      << pair.diagnostics();
  EXPECT_TRUE(pair.primary().has_event("broken")) << pair.diagnostics();
  EXPECT_NE(pair.primary().log().find("the backup is gone"), std::string::npos)
      << pair.diagnostics();
}

// A frozen peer keeps its socket open: only the silence past --peer-timeout tells.
TEST(PairLoss, PrimaryExitsWhenTheBackupFallsSilent) {
  PairProcesses pair(counter_pair());
  pair.pair();
  ASSERT_TRUE(pair.backup().freeze(kTimeout));
  EXPECT_EQ(pair.primary().wait_for_exit(kTimeout),
            std::optional<int>(vmft::ft::kPairBrokenExitCode))
      << pair.diagnostics();
  EXPECT_TRUE(pair.primary().has_event("broken")) << pair.diagnostics();
  EXPECT_NE(pair.primary().log().find("the backup sent nothing for"), std::string::npos)
      << pair.diagnostics();
}

TEST(PairLoss, BackupExitsWhenThePrimaryFallsSilent) {
  PairProcesses pair(counter_pair());
  pair.pair();
  ASSERT_TRUE(pair.primary().freeze(kTimeout));
  EXPECT_EQ(pair.backup().wait_for_exit(kTimeout),
            std::optional<int>(vmft::ft::kPairBrokenExitCode))
      << pair.diagnostics();
  EXPECT_TRUE(pair.backup().has_event("broken")) << pair.diagnostics();
  EXPECT_NE(pair.backup().log().find("the primary sent nothing for"), std::string::npos)
      << pair.diagnostics();
}

// ------------------------------------------------------------------ command lines

FinishedVmft run_primary(std::vector<std::string> options) {
  std::vector<std::string> args = {"primary", guest_path("counter"), "--log-listen", "127.0.0.1:0"};
  args.insert(args.end(), options.begin(), options.end());
  return run_vmft(args, kTimeout);
}

TEST(PairCommand, PrimaryNeedsAPairName) {
  const auto r = run_primary({});
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_NE(r.err.find("--name is required"), std::string::npos) << r.err;
}

TEST(PairCommand, BackupNeedsAPairName) {
  const auto r =
      run_vmft({"backup", guest_path("counter"), "--log-connect", "127.0.0.1:1"}, kTimeout);
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_NE(r.err.find("--name is required"), std::string::npos) << r.err;
}

TEST(PairCommand, RefusesALogBufferUnder64K) {
  const auto r = run_primary({"--name", "p", "--log-buffer", "1K"});
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_NE(r.err.find("--log-buffer must be from 64K to 8M, not 1K"), std::string::npos) << r.err;
}

TEST(PairCommand, RefusesAMaxLagUnder4M) {
  const auto r = run_primary({"--name", "p", "--max-lag", "1M"});
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_NE(r.err.find("--max-lag must be 0 (no bound) or at least 4M, not 1M"), std::string::npos)
      << r.err;
}

TEST(PairCommand, RefusesAPeerTimeoutNotLongerThanTheHeartbeat) {
  const auto r = run_primary({"--name", "p", "--heartbeat-interval", "50", "--peer-timeout", "50"});
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_NE(r.err.find("--peer-timeout must be longer than --heartbeat-interval"),
            std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace vmft::integration
