// The examples on the frame NIC (--tap): the counter and echo, built once from the sources that
// also serve on the socket NIC, run on the SDK's own TCP/IP stack in a network lab and serve
// the kernel's own clients from the client namespace: redis-cli, redis-benchmark, nc and ping.
// Recorded and replayed, as a pair, and through seeded frame loss, duplication and reordering.
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "FrameNicFixture.h"
#include "Subprocess.h"
#include "TcpRelay.h"
#include "vmft/ft/ExitCodes.h"

namespace vmft::integration {
namespace {

const std::string kCounterReady = "counter: ready\n";
// redis-benchmark's key: it INCRs "counter:__rand_int__" when not given -r.
const std::string kBenchKey = "counter:__rand_int__";

class ExamplesOnTheFrameNic : public FrameNic {
 protected:
  // redis-cli in the client namespace against the counter on the guest's address.
  std::string redis(const std::string& args) const {
    return lab_->client("redis-cli -h 198.18.0.10 -p 6379 " + args, kTimeout).out;
  }

  // redis-benchmark's INCR of one key, `requests` times over `clients` connections `pipeline`
  // deep, from the client namespace; fails the test on an error.
  void benchmark_incr(int clients, int pipeline, int requests, const std::string& why) const {
    const auto run = lab_->client("redis-benchmark -h 198.18.0.10 -p 6379 -t incr -q -c " +
                                      std::to_string(clients) + " -P " + std::to_string(pipeline) +
                                      " -n " + std::to_string(requests),
                                  Duration(120000));
    EXPECT_EQ(run.exit_code, std::optional<int>(0)) << run.out << run.err << why;
    EXPECT_EQ(run.err.find("Error"), std::string::npos) << run.err << why;
    EXPECT_NE(run.out.find("requests per second"), std::string::npos) << run.out << why;
  }

  // redis-benchmark's INCR of one key over 50 connections, `requests` times, started in the
  // background in the client namespace.
  std::unique_ptr<Subprocess> start_benchmark(int requests) const {
    std::vector<std::string> argv = lab_->in_client();
    argv.insert(argv.end(), {"redis-benchmark", "-h", "198.18.0.10", "-p", "6379", "-t", "incr",
                             "-q", "-c", "50", "-n", std::to_string(requests)});
    return std::make_unique<Subprocess>(argv);
  }

  // Waits until the counter has counted at least `count` of the benchmark's INCRs.
  bool wait_for_count(uint64_t count) const {
    const auto deadline = std::chrono::steady_clock::now() + scaled(kTimeout);
    while (std::chrono::steady_clock::now() < deadline) {
      const std::string value = redis("GET " + kBenchKey);
      if (!value.empty() && value != "\n" && std::stoull(value) >= count) return true;
    }
    return false;
  }

  // The background benchmark ended well: exit 0, every request answered, no connection lost
  // (redis-benchmark reports an error and stops on the first).
  static void expect_benchmark_done(Subprocess& bench, const std::string& why) {
    EXPECT_EQ(bench.wait_for_exit(Duration(120000)), std::optional<int>(0))
        << bench.stdout_text() << bench.stderr_text() << why;
    EXPECT_EQ(bench.stderr_text().find("Error"), std::string::npos) << bench.stderr_text() << why;
    EXPECT_EQ(bench.stdout_text().find("Error"), std::string::npos) << bench.stdout_text() << why;
    EXPECT_NE(bench.stdout_text().find("requests per second"), std::string::npos)
        << bench.stdout_text() << why;
  }

  std::string log_path(const std::string& name) const {
    return std::filesystem::temp_directory_path() /
           ("vmft-" + name + "-" + std::to_string(getpid()) + ".log");
  }
};

TEST_F(ExamplesOnTheFrameNic, CounterServesRedisCliRedisBenchmarkUdpAndPing) {
  VmftProcess vmft(lab_->in_lab(), "run", "counter", kFrameNic);
  ASSERT_TRUE(vmft.wait_for_console(kCounterReady, kTimeout)) << vmft.log();
  EXPECT_EQ(redis("INCR hits"), "1\n") << vmft.log();
  EXPECT_EQ(redis("INCR hits"), "2\n") << vmft.log();
  EXPECT_EQ(redis("PING"), "PONG\n");
  // 50 connections at once, then 16 requests deep on each: every INCR counted once.
  benchmark_incr(50, 1, 5000, vmft.log());
  benchmark_incr(50, 16, 50000, vmft.log());
  EXPECT_EQ(redis("GET " + kBenchKey), "55000\n") << vmft.log();
  EXPECT_EQ(udp_echo("INCR hits\r\n", 6379), ":3\r\n") << vmft.log();
  const auto ping = lab_->client("ping -c 3 -i 0.2 -W 5 198.18.0.10", kTimeout);
  EXPECT_NE(ping.out.find("3 received"), std::string::npos) << ping.out;
}

TEST_F(ExamplesOnTheFrameNic, EchoServesTcpUdpAndPing) {
  VmftProcess vmft(lab_->in_lab(), "run", "echo", kFrameNic);
  ASSERT_TRUE(vmft.wait_for_console("echo: ready\n", kTimeout)) << vmft.log();
  EXPECT_EQ(udp_echo("hello"), "hello");
  // 1 MB each way through the guest's 4 KiB windows, then eight clients at once.
  const auto big = lab_->client(
      "head -c 1000000 /dev/urandom > /tmp/echo-in.$$ && nc -N 198.18.0.10 7 < /tmp/echo-in.$$ "
      "| cmp - /tmp/echo-in.$$ && echo same; rm -f /tmp/echo-in.$$",
      Duration(60000));
  EXPECT_EQ(big.out, "same\n") << big.err << vmft.log();
  const auto several = lab_->client(
      "for i in 1 2 3 4 5 6 7 8; do printf 'conn %s\\n' $i | nc -N 198.18.0.10 7 & done; wait",
      kTimeout);
  for (int i = 1; i <= 8; i++) {
    EXPECT_NE(several.out.find("conn " + std::to_string(i) + "\n"), std::string::npos)
        << several.out << vmft.log();
  }
  const auto ping = lab_->client("ping -c 3 -i 0.2 -W 5 198.18.0.10", kTimeout);
  EXPECT_NE(ping.out.find("3 received"), std::string::npos) << ping.out;
}

TEST_F(ExamplesOnTheFrameNic, ARecordingOfTheCounterUnderRedisBenchmarkReplaysExactly) {
  const std::string log = log_path("counter-tap");
  std::vector<std::string> args = kFrameNic;
  args.insert(args.end(), {"--log", log});
  std::string console;
  {
    VmftProcess recorder(lab_->in_lab(), "record", "counter", args);
    ASSERT_TRUE(recorder.wait_for_console(kCounterReady, kTimeout)) << recorder.log();
    benchmark_incr(50, 16, 20000, recorder.log());
    EXPECT_EQ(redis("GET " + kBenchKey), "20000\n");
    recorder.terminate();
    ASSERT_EQ(recorder.wait_for_exit(kTimeout), std::optional<int>(0)) << recorder.log();
    console = recorder.console();
  }
  expect_replays_exactly(log, console, "counter");
}

// Frames lost (5%), duplicated and reordered both ways: TCP recovers every one, so every INCR
// counts exactly once and every reply is right; the recording still replays exactly.
TEST_F(ExamplesOnTheFrameNic, UnderSeededFrameFaultsEveryIncrCountsOnceAndReplaysExactly) {
  const std::string log = log_path("counter-faults");
  std::vector<std::string> args = kFrameNic;
  args.insert(args.end(),
              {"--log", log, "--tap-faults", "loss=0.05,duplicate=0.02,reorder=0.02,seed=11"});
  std::string console;
  {
    VmftProcess recorder(lab_->in_lab(), "record", "counter", args);
    ASSERT_TRUE(recorder.wait_for_console(kCounterReady, kTimeout)) << recorder.log();
    benchmark_incr(10, 1, 2000, recorder.log());
    benchmark_incr(10, 16, 8000, recorder.log());
    // redis-cli retries nothing: its own TCP connection recovers from a lost frame.
    for (int i = 1; i <= 10; i++) {
      EXPECT_EQ(redis("INCR once"), std::to_string(i) + "\n") << recorder.log();
    }
    EXPECT_EQ(redis("GET " + kBenchKey), "10000\n") << recorder.log();
    recorder.terminate();
    ASSERT_EQ(recorder.wait_for_exit(kTimeout), std::optional<int>(0)) << recorder.log();
    console = recorder.console();
  }
  expect_replays_exactly(log, console, "counter");
}

// A pair of counters on tap0 and tap1: redis-benchmark against the primary, then kill -9; the
// backup goes live on its own TAP device with every acknowledged INCR counted.
TEST_F(ExamplesOnTheFrameNic, APairOfCountersKeepsEveryAcknowledgedIncrAcrossAFailover) {
  const auto owner = pair_with_arbiter(pair_spec("counter", kCounterReady));
  PairProcesses& pair = *owner;
  benchmark_incr(50, 16, 20000, pair.diagnostics());
  EXPECT_EQ(redis("GET " + kBenchKey), "20000\n") << pair.diagnostics();
  pair.primary().kill();
  ASSERT_TRUE(pair.backup().wait_for_event("went_live", kTimeout)) << pair.diagnostics();
  // The bridge learns tap1 from the guest's gratuitous ARP; redis-cli's SYN retries cover the
  // moment before it does.
  EXPECT_EQ(redis("GET " + kBenchKey), "20000\n") << pair.diagnostics();
  EXPECT_EQ(redis("INCR " + kBenchKey), "20001\n") << pair.diagnostics();
}

// A join on the frame NIC under load: the backup is killed and a new one (on the dead
// backup's TAP device, tap1) joins while redis-benchmark runs, so that frames wait in the NIC
// when the primary snapshots its guest; then the primary is killed and the joiner goes live
// with every INCR.
TEST_F(ExamplesOnTheFrameNic, ABackupJoinsUnderLoadAndTakesOverWithEveryIncr) {
  const auto owner = pair_with_arbiter(pair_spec("counter", kCounterReady));
  PairProcesses& pair = *owner;
  pair.backup().kill();
  ASSERT_TRUE(pair.primary().wait_for_event("alone", kTimeout)) << pair.diagnostics();
  std::vector<std::string> options = pair.backup_options();
  options.push_back("--join");
  auto joiner = pair.start_backup("counter", options);
  benchmark_incr(50, 16, 100000, pair.diagnostics());
  ASSERT_TRUE(pair.primary().wait_for_event("joined", kTimeout))
      << pair.diagnostics() << joiner->log();
  const auto paired = joiner->wait_for_event("paired", Duration(0));
  ASSERT_TRUE(paired) << joiner->log();
  EXPECT_TRUE(paired->contains("joined_at")) << paired->dump();
  EXPECT_EQ(redis("GET " + kBenchKey), "100000\n") << pair.diagnostics();
  pair.primary().kill();
  ASSERT_TRUE(joiner->wait_for_event("went_live", kTimeout)) << joiner->log();
  EXPECT_EQ(redis("GET " + kBenchKey), "100000\n") << joiner->log();
  EXPECT_EQ(redis("INCR " + kBenchKey), "100001\n") << joiner->log();
}

// The point of the frame NIC: 50 connections of redis-benchmark carry on across kill -9 of the
// primary, with no error and no reconnection (redis-benchmark stops at the first), and every
// INCR counted exactly once.
TEST_F(ExamplesOnTheFrameNic, FiftyConnectionsCarryOnAcrossKillingThePrimary) {
  const auto owner = pair_with_arbiter(pair_spec("counter", kCounterReady));
  PairProcesses& pair = *owner;
  constexpr int kRequests = 60000;
  const auto bench = start_benchmark(kRequests);
  ASSERT_TRUE(wait_for_count(kRequests / 4)) << pair.diagnostics();
  pair.primary().kill();
  ASSERT_TRUE(pair.backup().wait_for_event("went_live", kTimeout)) << pair.diagnostics();
  expect_benchmark_done(*bench, pair.diagnostics());
  EXPECT_EQ(redis("GET " + kBenchKey), std::to_string(kRequests) + "\n") << pair.diagnostics();
}

// The primary frozen (SIGSTOP) past the peer timeout: the backup goes live and the connections
// carry on with it; the old primary, woken, learns from the arbiter that it lost the pair and
// exits, having sent nothing the backup had not acknowledged.
TEST_F(ExamplesOnTheFrameNic, ConnectionsCarryOnAcrossAFrozenPrimaryThatWakesToFindItLost) {
  const auto owner = pair_with_arbiter(pair_spec("counter", kCounterReady));
  PairProcesses& pair = *owner;
  constexpr int kRequests = 60000;
  const auto bench = start_benchmark(kRequests);
  ASSERT_TRUE(wait_for_count(kRequests / 4)) << pair.diagnostics();
  ASSERT_TRUE(pair.primary().freeze(kTimeout));
  ASSERT_TRUE(pair.backup().wait_for_event("went_live", kTimeout)) << pair.diagnostics();
  pair.primary().thaw();
  EXPECT_EQ(pair.primary().wait_for_exit(kTimeout), std::optional<int>(ft::kLostPairExitCode))
      << pair.diagnostics();
  EXPECT_TRUE(pair.primary().has_event("lost")) << pair.diagnostics();
  expect_benchmark_done(*bench, pair.diagnostics());
  EXPECT_EQ(redis("GET " + kBenchKey), std::to_string(kRequests) + "\n") << pair.diagnostics();
}

// Polls `done` until it holds, or the (scaled) timeout passes.
bool wait_until(const std::function<bool()>& done, Duration timeout) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return done();
}

// A client of the counter on one TCP connection from the client namespace, INCRing its own key
// without pause on a thread of its own, never reconnecting and never resending: every reply
// must be the previous one plus one, so that an INCR lost or counted twice shows at once.
class OneConnectionClient {
 public:
  OneConnectionClient(const NetLab& lab, std::string key)
      : key_(std::move(key)), fd_(lab.connect_from_client("198.18.0.10", 6379)) {
    if (fd_ < 0) {
      error_ = std::string("cannot connect: ") + std::strerror(errno);
      return;
    }
    timeval timeout{static_cast<time_t>(scaled(kTimeout).count() / 1000), 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    thread_ = std::thread([this] { run(); });
  }
  ~OneConnectionClient() {
    stop();
    if (fd_ >= 0) ::close(fd_);
  }
  void stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
  }
  long long answered() const { return answered_; }
  const std::string& key() const { return key_; }
  std::string error() const {
    std::lock_guard lock(mutex_);
    return error_;
  }

 private:
  void run() {
    const std::string request = "INCR " + key_ + "\r\n";
    while (!stopping_) {
      if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
          static_cast<ssize_t>(request.size())) {
        return fail(std::string("send: ") + std::strerror(errno));
      }
      std::string reply;
      while (reply.empty() || reply.back() != '\n') {
        char c;
        const ssize_t n = ::recv(fd_, &c, 1, 0);
        if (n <= 0) return fail(n == 0 ? "the connection closed" : std::strerror(errno));
        reply.push_back(c);
      }
      if (reply != ":" + std::to_string(answered_ + 1) + "\r\n") {
        return fail("INCR " + std::to_string(answered_ + 1) + " answered '" + reply + "'");
      }
      ++answered_;
    }
  }
  void fail(const std::string& why) {
    std::lock_guard lock(mutex_);
    error_ = why + " after " + std::to_string(answered_) + " answered";
  }

  const std::string key_;
  const int fd_;
  std::atomic<bool> stopping_{false};
  std::atomic<long long> answered_{0};
  mutable std::mutex mutex_;
  std::string error_;
  std::thread thread_;
};

// Ten failovers in a row on one set of client connections: each time the live side is killed
// with kill -9, its backup goes live on its own TAP device, and a new backup joins it on the
// dead side's device; four clients INCR throughout on the connections they opened first, and
// every INCR of theirs is answered once, in order.
TEST_F(ExamplesOnTheFrameNic, TenFailoversWithJoinsBetweenKeepEveryClientConnection) {
  const std::string arbiter = start_arbiter();
  const auto side = [&](const std::string& role, int n, std::vector<std::string> more) {
    std::vector<std::string> options = {"--name",
                                        "ten",
                                        "--guest-ip",
                                        "198.18.0.10/24",
                                        "--arbiter",
                                        arbiter,
                                        "--tap",
                                        n % 2 ? "tap1" : "tap0",
                                        "--log-listen",
                                        "127.0.0.1:" + std::to_string(7400 + n),
                                        "--status-interval",
                                        "0"};
    options.insert(options.end(), more.begin(), more.end());
    return std::make_unique<VmftProcess>(lab_->in_lab(), role, "counter", options);
  };
  const auto connect_to = [](int n) {
    return std::vector<std::string>{"--log-connect", "127.0.0.1:" + std::to_string(7400 + n)};
  };
  std::vector<std::unique_ptr<VmftProcess>> sides;
  sides.push_back(side("primary", 0, {}));
  sides.push_back(side("backup", 1, connect_to(0)));
  ASSERT_TRUE(sides[0]->wait_for_event("registered", {{"epoch", 1}}, kTimeout))
      << sides[0]->log() << sides[1]->log();
  ASSERT_TRUE(sides[0]->wait_for_console(kCounterReady, kTimeout)) << sides[0]->log();
  std::vector<std::unique_ptr<OneConnectionClient>> clients;
  for (int i = 0; i < 4; i++) {
    clients.push_back(std::make_unique<OneConnectionClient>(*lab_, "ten" + std::to_string(i)));
  }
  for (int cycle = 0; cycle < 10; cycle++) {
    VmftProcess& live = *sides[cycle];
    VmftProcess& backup = *sides[cycle + 1];
    live.kill();
    ASSERT_TRUE(backup.wait_for_event("went_live", kTimeout)) << backup.log();
    std::vector<std::string> join = connect_to(cycle + 1);
    join.push_back("--join");
    sides.push_back(side("backup", cycle + 2, join));
    auto& joiner = *sides.back();
    ASSERT_TRUE(backup.wait_for_event("joined", kTimeout)) << backup.log() << joiner.log();
  }
  for (auto& c : clients) c->stop();
  for (auto& c : clients) {
    EXPECT_EQ(c->error(), "") << c->key();
    EXPECT_GT(c->answered(), 0) << c->key();
    EXPECT_EQ(redis("GET " + c->key()), std::to_string(c->answered()) + "\n") << c->key();
  }
}

// The logging channel partitioned (a relay between the sides stops passing anything): each side
// hears only silence, both ask the arbiter, and exactly one goes on; whichever it is, the
// clients' connections carry on with it and every INCR is answered once, in order.
TEST_F(ExamplesOnTheFrameNic, AChannelPartitionLeavesOneSideAndEveryClientConnection) {
  const std::string arbiter = start_arbiter();
  const auto options = [&](const std::string& tap) {
    return std::vector<std::string>{"--name",
                                    "cut",
                                    "--guest-ip",
                                    "198.18.0.10/24",
                                    "--arbiter",
                                    arbiter,
                                    "--tap",
                                    tap,
                                    "--peer-timeout",
                                    "300",
                                    "--status-interval",
                                    "0"};
  };
  std::vector<std::string> primary_options = options("tap0");
  primary_options.insert(primary_options.end(), {"--log-listen", "127.0.0.1:7400"});
  VmftProcess primary(lab_->in_lab(), "primary", "counter", primary_options);
  ASSERT_TRUE(primary.wait_for_event("waiting", kTimeout)) << primary.log();
  const auto relay = lab_->in_lab_namespace<std::shared_ptr<TcpRelay>>(
      [] { return std::make_shared<TcpRelay>(7400); });
  std::vector<std::string> backup_options = options("tap1");
  backup_options.insert(backup_options.end(),
                        {"--log-connect", "127.0.0.1:" + std::to_string(relay->port())});
  VmftProcess backup(lab_->in_lab(), "backup", "counter", backup_options);
  ASSERT_TRUE(primary.wait_for_event("registered", {{"epoch", 1}}, kTimeout))
      << primary.log() << backup.log();
  ASSERT_TRUE(primary.wait_for_console(kCounterReady, kTimeout)) << primary.log();
  std::vector<std::unique_ptr<OneConnectionClient>> clients;
  for (int i = 0; i < 4; i++) {
    clients.push_back(std::make_unique<OneConnectionClient>(*lab_, "cut" + std::to_string(i)));
  }
  ASSERT_TRUE(wait_until([&] { return clients.back()->answered() > 100; }, kTimeout));
  relay->stall();
  // One side wins the pair at the arbiter; the other learns it lost and exits.
  ASSERT_TRUE(wait_until(
      [&] { return primary.has_event("alone") || backup.has_event("went_live"); }, kTimeout))
      << primary.log() << backup.log();
  const bool primary_won = primary.has_event("alone");
  VmftProcess& loser = primary_won ? backup : primary;
  EXPECT_EQ(loser.wait_for_exit(kTimeout), std::optional<int>(ft::kLostPairExitCode))
      << loser.log();
  const long long before = clients.back()->answered();
  ASSERT_TRUE(wait_until([&] { return clients.back()->answered() > before + 100; }, kTimeout))
      << clients.back()->error() << primary.log() << backup.log();
  for (auto& c : clients) c->stop();
  for (auto& c : clients) {
    EXPECT_EQ(c->error(), "") << c->key();
    EXPECT_EQ(redis("GET " + c->key()), std::to_string(c->answered()) + "\n") << c->key();
  }
}

// Both edges of a failover under seeded faults on each side's frame path (loss, duplication and
// reordering both ways): segments the backup's guest sends again that the client had, and
// segments the client sent that no log holds. TCP sorts out both: the clients' connections
// carry on across kill -9 of the primary, and every INCR is answered once, in order.
TEST_F(ExamplesOnTheFrameNic, AFailoverUnderSeededFrameFaultsKeepsEveryClientConnection) {
  const std::string arbiter = start_arbiter();
  const auto options = [&](const std::string& tap, const std::string& seed) {
    return std::vector<std::string>{"--name",
                                    "faults",
                                    "--guest-ip",
                                    "198.18.0.10/24",
                                    "--arbiter",
                                    arbiter,
                                    "--tap",
                                    tap,
                                    "--tap-faults",
                                    "loss=0.03,duplicate=0.03,reorder=0.03,seed=" + seed,
                                    "--status-interval",
                                    "0"};
  };
  std::vector<std::string> primary_options = options("tap0", "21");
  primary_options.insert(primary_options.end(), {"--log-listen", "127.0.0.1:7400"});
  VmftProcess primary(lab_->in_lab(), "primary", "counter", primary_options);
  std::vector<std::string> backup_options = options("tap1", "22");
  backup_options.insert(backup_options.end(), {"--log-connect", "127.0.0.1:7400"});
  VmftProcess backup(lab_->in_lab(), "backup", "counter", backup_options);
  ASSERT_TRUE(primary.wait_for_event("registered", {{"epoch", 1}}, kTimeout))
      << primary.log() << backup.log();
  ASSERT_TRUE(primary.wait_for_console(kCounterReady, kTimeout)) << primary.log();
  std::vector<std::unique_ptr<OneConnectionClient>> clients;
  for (int i = 0; i < 4; i++) {
    clients.push_back(std::make_unique<OneConnectionClient>(*lab_, "f" + std::to_string(i)));
  }
  ASSERT_TRUE(wait_until([&] { return clients.back()->answered() > 100; }, kTimeout))
      << clients.back()->error();
  primary.kill();
  ASSERT_TRUE(backup.wait_for_event("went_live", kTimeout)) << backup.log();
  const long long before = clients.back()->answered();
  ASSERT_TRUE(wait_until([&] { return clients.back()->answered() > before + 100; }, kTimeout))
      << clients.back()->error() << backup.log();
  for (auto& c : clients) c->stop();
  for (auto& c : clients) {
    EXPECT_EQ(c->error(), "") << c->key();
    EXPECT_EQ(redis("GET " + c->key()), std::to_string(c->answered()) + "\n") << c->key();
  }
}

}  // namespace
}  // namespace vmft::integration
