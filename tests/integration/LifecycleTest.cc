// Operating a pair: stopping and starting either side with the same commands, a backup that
// leaves, a primary that fails fast, and what an operator asks of the arbiter. Real processes,
// real arbiters (built-in and etcd), the counter guest and real clients on 127.0.0.1.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "CounterChecks.h"
#include "FreePort.h"
#include "NetClients.h"
#include "TestArbiter.h"
#include "VmftProcess.h"
#include "vmft/ft/ExitCodes.h"

namespace vmft::integration {
namespace {

namespace fs = std::filesystem;

constexpr Duration kTimeout{10000};
using arbiter::Mode;

// The two sides of a pair of counters, each started from the same command line every time:
// the client port and both logging channel ports are fixed, as a service manager's would be.
class SameCommands {
 public:
  SameCommands(std::string arbiter, std::string name)
      : arbiter_(std::move(arbiter)),
        name_(std::move(name)),
        tcp_(unused_port(SOCK_STREAM)),
        log_(unused_port(SOCK_STREAM)),
        backup_log_(unused_port(SOCK_STREAM)),
        primary_status_(unused_port(SOCK_STREAM)),
        backup_status_(unused_port(SOCK_STREAM)) {}

  std::vector<std::string> primary_args() const {
    auto args = side({"--log-listen", "127.0.0.1:" + std::to_string(log_), "--status-listen",
                      "127.0.0.1:" + std::to_string(primary_status_)});
    args.insert(args.end(), primary_extra.begin(), primary_extra.end());
    return args;
  }
  std::vector<std::string> backup_args() const {
    auto args = side({"--log-connect", "127.0.0.1:" + std::to_string(log_), "--log-listen",
                      "127.0.0.1:" + std::to_string(backup_log_), "--status-listen",
                      "127.0.0.1:" + std::to_string(backup_status_)});
    args.insert(args.end(), backup_extra.begin(), backup_extra.end());
    return args;
  }
  std::unique_ptr<VmftProcess> start_primary() const {
    return std::make_unique<VmftProcess>("primary", "counter", primary_args());
  }
  std::unique_ptr<VmftProcess> start_backup() const {
    return std::make_unique<VmftProcess>("backup", "counter", backup_args());
  }
  // Both sides, paired and serving; the test fails (and this returns false) if not.
  bool start_pair(std::unique_ptr<VmftProcess>& primary, std::unique_ptr<VmftProcess>& backup) {
    primary = start_primary();
    if (!primary->wait_for_event("waiting", kTimeout)) {
      ADD_FAILURE() << "the primary did not start\n" << primary->log();
      return false;
    }
    backup = start_backup();
    const bool paired = backup->wait_for_event("paired", kTimeout) &&
                        primary->wait_for_console("counter: ready", kTimeout);
    if (!paired) ADD_FAILURE() << "no pair\n" << primary->log() << "\n" << backup->log();
    return paired;
  }
  uint16_t tcp_port() const { return tcp_; }
  std::vector<std::string> extra;          ///< more flags for both sides
  std::vector<std::string> primary_extra;  ///< and for one
  std::vector<std::string> backup_extra;
  uint16_t backup_log_port() const { return backup_log_; }
  uint16_t primary_status_port() const { return primary_status_; }
  uint16_t backup_status_port() const { return backup_status_; }
  // A primary run to its end, for one that is to refuse to start.
  FinishedVmft run_primary() const {
    std::vector<std::string> args = {"primary", guest_path("counter")};
    const auto rest = primary_args();
    args.insert(args.end(), rest.begin(), rest.end());
    return run_vmft(args, kTimeout);
  }

 private:
  std::vector<std::string> side(std::vector<std::string> channel) const {
    std::vector<std::string> args = {
        "--name", name_, "--tcp", "127.0.0.1:" + std::to_string(tcp_), "--status-interval", "0"};
    if (!arbiter_.empty()) args.insert(args.end(), {"--arbiter", arbiter_});
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), channel.begin(), channel.end());
    return args;
  }

  std::string arbiter_;
  std::string name_;
  uint16_t tcp_;
  uint16_t log_;
  uint16_t backup_log_;  ///< where a backup that went live takes joiners
  uint16_t primary_status_;
  uint16_t backup_status_;
};

// kill -9 of both sides, as a power cut would: nobody releases the pair.
void kill_both(VmftProcess& primary, VmftProcess& backup) {
  primary.kill();
  backup.kill();
  primary.wait_for_exit(kTimeout);
  backup.wait_for_exit(kTimeout);
}

std::string incr(uint16_t port) {
  TcpClient client(port);
  return counter_command(client, "INCR k");
}

class Lifecycle : public ::testing::TestWithParam<ArbiterKind> {
 protected:
  void SetUp() override { arbiter_ = TestArbiter::start(GetParam()); }
  std::string address() const { return arbiter_->address(); }
  arbiter::ArbiterState state(const std::string& pair) const { return arbiter_->read(pair); }

  std::unique_ptr<TestArbiter> arbiter_;
};

INSTANTIATE_TEST_SUITE_P(Arbiter, Lifecycle,
                         ::testing::Values(ArbiterKind::kBuiltIn, ArbiterKind::kEtcd),
                         [](const auto& info) { return arbiter_kind_name(info.param); });

TEST_P(Lifecycle, APairStoppedCleanlyStartsAgainWithTheSameCommands) {
  SameCommands commands(address(), "again");
  for (int round = 0; round < 2; ++round) {
    std::unique_ptr<VmftProcess> primary, backup;
    ASSERT_TRUE(commands.start_pair(primary, backup)) << "round " << round;
    EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n") << primary->log();
    primary->terminate();
    EXPECT_EQ(primary->wait_for_exit(kTimeout), std::optional<int>(0)) << primary->log();
    EXPECT_EQ(backup->wait_for_exit(kTimeout), std::optional<int>(0)) << backup->log();
    const auto s = state("again");
    EXPECT_EQ(s.mode, Mode::kReleased) << describe(s) << "\n" << primary->log();
  }
}

TEST_P(Lifecycle, StoppingTheBackupLeavesThePrimaryServingAloneAtOnce) {
  SameCommands commands(address(), "leave");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n");
  backup->interrupt();  // Ctrl-C
  EXPECT_EQ(backup->wait_for_exit(kTimeout), std::optional<int>(0)) << backup->log();
  ASSERT_TRUE(primary->wait_for_event("alone", kTimeout)) << primary->log();
  EXPECT_NE(primary->log().find("the backup left: it was stopped"), std::string::npos)
      << primary->log();
  EXPECT_EQ(primary->log().find("sent nothing for"), std::string::npos) << primary->log();
  const auto s = state("leave");
  EXPECT_EQ(s.mode, Mode::kAlone) << describe(s);
  EXPECT_EQ(s.holder.rfind("primary@", 0), 0u) << describe(s);
  EXPECT_EQ(incr(commands.tcp_port()), ":2\r\n") << primary->log();
  // The same command starts it again (a service manager's restart): it joins.
  auto again = commands.start_backup();
  const auto joined = again->wait_for_event("paired", kTimeout);
  ASSERT_TRUE(joined) << again->log();
  EXPECT_TRUE(joined->contains("joined_at")) << joined->dump();
  EXPECT_NE(again->log().find("runs already: this backup joins it"), std::string::npos)
      << again->log();
  EXPECT_EQ(incr(commands.tcp_port()), ":3\r\n") << primary->log();
  primary->terminate();
  EXPECT_EQ(primary->wait_for_exit(kTimeout), std::optional<int>(0)) << primary->log();
  EXPECT_EQ(again->wait_for_exit(kTimeout), std::optional<int>(0)) << again->log();
}

TEST_P(Lifecycle, APairKilledOutrightStartsAgainWithTheSameCommands) {
  SameCommands commands(address(), "crash");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  ASSERT_TRUE(primary->wait_for_event("registered", kTimeout)) << primary->log();
  kill_both(*primary, *backup);
  EXPECT_EQ(state("crash").mode, Mode::kPaired);  // nobody released it
  // The primary's id is the same as before, so the arbiter takes it back.
  ASSERT_TRUE(commands.start_pair(primary, backup));
  EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n") << primary->log();
  ASSERT_TRUE(primary->wait_for_event("registered", {{"epoch", 2}}, kTimeout)) << primary->log();
}

TEST_P(Lifecycle, AnotherPrimaryUnderAHeldNameExitsAtOnceWithoutTakingClients) {
  SameCommands commands(address(), "held");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  ASSERT_TRUE(primary->wait_for_event("registered", kTimeout)) << primary->log();
  SameCommands other(address(), "held");  // other ports, so another default id
  const auto r = other.run_primary();
  EXPECT_EQ(r.exit_code, ft::kNameHeldExitCode) << r.err;
  EXPECT_NE(r.err.find("the arbiter holds pair 'held' for another side"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("listening on tcp"), std::string::npos) << r.err;
  EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n") << primary->log();
}

TEST_P(Lifecycle, TheArbiterCommandsListShowAndReleaseAPair) {
  SameCommands commands(address(), "admin");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  ASSERT_TRUE(primary->wait_for_event("registered", kTimeout)) << primary->log();
  kill_both(*primary, *backup);

  const auto list = run_vmft({"arbiter", "list", "--arbiter", address()}, kTimeout);
  EXPECT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("admin"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("paired"), std::string::npos) << list.out;
  const auto show = run_vmft({"arbiter", "show", "admin", "--arbiter", address()}, kTimeout);
  EXPECT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("mode:   paired"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("holder: primary@"), std::string::npos) << show.out;

  // Another primary cannot have the name until an operator releases it.
  SameCommands other(address(), "admin");
  std::unique_ptr<VmftProcess> p2, b2;
  const auto refused = other.run_primary();
  EXPECT_EQ(refused.exit_code, ft::kNameHeldExitCode) << refused.err;
  const auto release = run_vmft({"arbiter", "release", "admin", "--arbiter", address()}, kTimeout);
  EXPECT_EQ(release.exit_code, 0) << release.err;
  EXPECT_NE(release.out.find("released pair 'admin' at epoch 1"), std::string::npos) << release.out;
  EXPECT_EQ(state("admin").mode, Mode::kReleased);
  ASSERT_TRUE(other.start_pair(p2, b2));
  EXPECT_EQ(incr(other.tcp_port()), ":1\r\n") << p2->log();
}

// ------------------------------------------------------------------ status and metrics

// One sample of the Prometheus text format: "name{labels} value".
struct Sample {
  std::string name;
  std::map<std::string, std::string> labels;
  double value = 0;
};

// Parses the text exposition format strictly enough that a scraper would take it: every
// sample's metric has a # TYPE before it, names and labels are well formed, values numbers.
// Fails the test (and returns what it parsed so far) on anything else.
std::vector<Sample> parse_prometheus(const std::string& text) {
  static const std::regex type_line(R"(# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (gauge|counter))");
  static const std::regex sample_line(
      R"(([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? ([-+0-9.eE]+|NaN|[+-]Inf))");
  static const std::regex label_pair(R"(([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)\"(,|$))");
  std::set<std::string> typed;
  std::vector<Sample> samples;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    std::smatch m;
    if (line.starts_with("# HELP ")) continue;
    if (std::regex_match(line, m, type_line)) {
      typed.insert(m[1].str());
      continue;
    }
    if (!std::regex_match(line, m, sample_line)) {
      ADD_FAILURE() << "not a Prometheus line: '" << line << "'\n" << text;
      return samples;
    }
    Sample sample{m[1].str(), {}, std::stod(m[4].str())};
    EXPECT_TRUE(typed.count(sample.name)) << sample.name << " has no # TYPE before it";
    std::string labels = m[3].str();
    for (std::smatch l; std::regex_search(labels, l, label_pair); labels = l.suffix().str()) {
      sample.labels[l[1].str()] = l[2].str();
    }
    samples.push_back(std::move(sample));
  }
  return samples;
}

std::string http_get(uint16_t port, const std::string& path) {
  TcpClient client(port);
  client.send_all("GET " + path + " HTTP/1.0\r\n\r\n");
  const std::string reply = client.receive_until_closed(kTimeout).data;
  const size_t body = reply.find("\r\n\r\n");
  if (!reply.starts_with("HTTP/1.0 200 ") || body == std::string::npos) {
    ADD_FAILURE() << "GET " << path << " answered: " << reply;
    return {};
  }
  return reply.substr(body + 4);
}

// The side's metrics as name -> value, with vmft_info's labels under "role", "state" ...
std::map<std::string, std::string> scrape(uint16_t port) {
  std::map<std::string, std::string> out;
  for (const Sample& s : parse_prometheus(http_get(port, "/metrics"))) {
    if (s.name == "vmft_info") {
      for (const auto& [k, v] : s.labels) out[k] = v;
    } else {
      out[s.name] = std::to_string(static_cast<long long>(s.value));
    }
  }
  return out;
}

// Scrapes until `want` holds (the epoch is registered, the backup in sync, ...), at most
// kTimeout; returns the last scrape.
template <typename Want>
std::map<std::string, std::string> scrape_until(uint16_t port, Want want) {
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  auto metrics = scrape(port);
  while (!want(metrics) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // a scraper's interval
    metrics = scrape(port);
  }
  return metrics;
}

std::string text_of(const std::map<std::string, std::string>& metrics) {
  std::string out;
  for (const auto& [k, v] : metrics) out += k + "=" + v + "\n";
  return out;
}

TEST_P(Lifecycle, MetricsAndStatusShowRoleEpochAndLagBeforeAndAfterAFailover) {
  SameCommands commands(address(), "watched");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n");

  auto p = scrape_until(commands.primary_status_port(), [](const auto& m) {
    return m.count("vmft_epoch") && m.at("vmft_epoch") == "1" && m.count("state") &&
           m.at("state") == "paired" && m.count("vmft_arbiter_reachable");
  });
  EXPECT_EQ(p["role"], "primary") << text_of(p);
  EXPECT_EQ(p["state"], "paired") << text_of(p);
  EXPECT_EQ(p["pair"], "watched") << text_of(p);
  EXPECT_EQ(p["vmft_epoch"], "1") << text_of(p);
  EXPECT_EQ(p["vmft_backup_in_sync"], "1") << text_of(p);
  EXPECT_TRUE(p.count("vmft_backup_lag_instructions")) << text_of(p);
  EXPECT_EQ(p["vmft_arbiter_reachable"], "1") << text_of(p);
  EXPECT_EQ(p["vmft_failovers_total"], "0") << text_of(p);
  EXPECT_GT(std::stoll(p["vmft_instructions_total"]), 0) << text_of(p);
  EXPECT_GT(std::stoll(p["vmft_log_records_acknowledged_total"]), 0) << text_of(p);
  auto b = scrape_until(commands.backup_status_port(), [](const auto& m) {
    return m.count("vmft_epoch") && m.at("vmft_epoch") == "1";
  });
  EXPECT_EQ(b["role"], "backup") << text_of(b);
  EXPECT_EQ(b["state"], "replaying") << text_of(b);
  EXPECT_EQ(b["vmft_epoch"], "1") << text_of(b);

  primary->kill();
  ASSERT_TRUE(backup->wait_for_event("went_live", kTimeout)) << backup->log();
  TcpClient client(commands.tcp_port());  // open while the live side is scraped
  EXPECT_EQ(counter_command(client, "INCR k"), ":2\r\n") << backup->log();
  b = scrape(commands.backup_status_port());
  EXPECT_EQ(b["role"], "live") << text_of(b);
  EXPECT_EQ(b["state"], "alone") << text_of(b);
  EXPECT_EQ(b["vmft_epoch"], "1") << text_of(b);
  EXPECT_EQ(b["vmft_failovers_total"], "1") << text_of(b);
  EXPECT_EQ(b["vmft_backup_in_sync"], "0") << text_of(b);
  EXPECT_GE(std::stoll(b["vmft_client_connections"]), 1) << text_of(b);

  const auto status =
      run_vmft({"status", "127.0.0.1:" + std::to_string(commands.backup_status_port())}, kTimeout);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("pair 'watched', epoch 1: live (alone)"), std::string::npos)
      << status.out;
  EXPECT_NE(status.out.find("failovers 1, joins 0"), std::string::npos) << status.out;

  // A new backup joins the live side: a pair again, at a new epoch.
  std::vector<std::string> joiner_args = {"--name",
                                          "watched",
                                          "--tcp",
                                          "127.0.0.1:" + std::to_string(commands.tcp_port()),
                                          "--arbiter",
                                          address(),
                                          "--join",
                                          "--log-connect",
                                          "127.0.0.1:" + std::to_string(commands.backup_log_port()),
                                          "--status-interval",
                                          "0"};
  VmftProcess joiner("backup", "counter", joiner_args);
  b = scrape_until(commands.backup_status_port(), [](const auto& m) {
    return m.count("vmft_joins_total") && m.at("vmft_joins_total") == "1" &&
           m.at("vmft_backup_in_sync") == "1";
  });
  EXPECT_EQ(b["vmft_epoch"], "2") << text_of(b) << joiner.log();
  EXPECT_EQ(b["state"], "paired") << text_of(b);
  EXPECT_EQ(b["vmft_joins_total"], "1") << text_of(b);
  EXPECT_EQ(incr(commands.tcp_port()), ":3\r\n");
}

TEST_P(Lifecycle, OnLiveRunsWhenEachSideGoesLive) {
  const fs::path file = fs::temp_directory_path() / ("vmft-on-live-" + std::to_string(::getpid()));
  fs::remove(file);
  SameCommands commands(address(), "hooked");
  commands.extra = {"--on-live",
                    "echo \"$VMFT_ROLE $VMFT_PAIR $VMFT_EPOCH $VMFT_ID\" >> " + file.string()};
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  const auto lines = [&] {
    std::ifstream in(file);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) out.push_back(line);
    return out;
  };
  ASSERT_TRUE(primary->wait_for_log("the --on-live command succeeded", kTimeout)) << primary->log();
  ASSERT_EQ(lines().size(), 1u);
  EXPECT_EQ(lines()[0].rfind("primary hooked 1 primary@", 0), 0u) << lines()[0];
  EXPECT_TRUE(backup->wait_for_exit(Duration{0}) == std::nullopt);
  primary->kill();
  ASSERT_TRUE(backup->wait_for_log("the --on-live command succeeded", kTimeout)) << backup->log();
  ASSERT_EQ(lines().size(), 2u);
  EXPECT_EQ(lines()[1].rfind("backup hooked 1 backup@", 0), 0u) << lines()[1];
  fs::remove(file);
}

// The events a side wrote to its --events file, in order, each with its fields.
std::vector<nlohmann::json> read_events(const fs::path& file) {
  std::vector<nlohmann::json> events;
  std::ifstream in(file);
  for (std::string line; std::getline(in, line);) events.push_back(nlohmann::json::parse(line));
  return events;
}

std::vector<std::string> names_of(const std::vector<nlohmann::json>& events) {
  std::vector<std::string> names;
  for (const auto& e : events) names.push_back(e.at("event").get<std::string>());
  return names;
}

const nlohmann::json* find_event(const std::vector<nlohmann::json>& events, const char* name) {
  for (const auto& e : events) {
    if (e.at("event") == name) return &e;
  }
  return nullptr;
}

// Polls `file` until it holds an event named `name`; returns whether it did within the timeout.
bool wait_for_event_in(const fs::path& file, const char* name) {
  const auto deadline = std::chrono::steady_clock::now() + scaled(kTimeout);
  while (!find_event(read_events(file), name)) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

// Both forms of --events: the primary appends to a file, the backup writes to a descriptor it
// was given (the test harness reads every side's events that way).
TEST_P(Lifecycle, EventsTellEachSidesLifecycleAsJsonLines) {
  const fs::path primary_events =
      fs::temp_directory_path() / ("vmft-events-p-" + std::to_string(::getpid()));
  fs::remove(primary_events);
  SameCommands commands(address(), "evented");
  commands.primary_extra = {"--events", primary_events.string()};
  auto primary = commands.start_primary();
  ASSERT_TRUE(wait_for_event_in(primary_events, "waiting")) << primary->log();
  auto backup = commands.start_backup();
  ASSERT_TRUE(backup->wait_for_event("paired", kTimeout)) << backup->log();
  ASSERT_TRUE(wait_for_event_in(primary_events, "registered")) << primary->log();
  ASSERT_TRUE(primary->wait_for_console("counter: ready", kTimeout)) << primary->log();
  primary->kill();
  primary->wait_for_exit(kTimeout);
  ASSERT_TRUE(backup->wait_for_event("went_live", kTimeout)) << backup->log();
  backup->terminate();
  EXPECT_EQ(backup->wait_for_exit(kTimeout), std::optional<int>(0)) << backup->log();

  const auto p = read_events(primary_events);
  EXPECT_EQ(names_of(p), (std::vector<std::string>{"waiting", "paired", "registered"}));
  ASSERT_TRUE(find_event(p, "registered"));
  EXPECT_EQ(find_event(p, "registered")->at("epoch"), 1);
  EXPECT_EQ(p.front().at("pair"), "evented");
  EXPECT_EQ(p.front().at("role"), "primary");
  EXPECT_EQ(p.front().at("id").get<std::string>().rfind("primary@", 0), 0u);
  const auto b = backup->events();
  EXPECT_EQ(names_of(b),
            (std::vector<std::string>{"paired", "peer_lost", "went_live", "released", "exited"}));
  ASSERT_TRUE(find_event(b, "went_live"));
  EXPECT_EQ(find_event(b, "went_live")->at("epoch"), 1);
  EXPECT_GT(find_event(b, "went_live")->at("instruction").get<uint64_t>(), 0u);
  EXPECT_EQ(b.front().at("role"), "backup");
  EXPECT_EQ(b.back().at("code"), 0);
  fs::remove(primary_events);
}

// ------------------------------------------------------------------ without an arbiter

TEST(LifecycleWithoutAnArbiter, StoppingTheBackupLeavesThePrimaryServing) {
  SameCommands commands("", "solo");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n");
  backup->terminate();
  EXPECT_EQ(backup->wait_for_exit(kTimeout), std::optional<int>(0)) << backup->log();
  ASSERT_TRUE(primary->wait_for_event("alone", kTimeout)) << primary->log();
  EXPECT_EQ(incr(commands.tcp_port()), ":2\r\n") << primary->log();
  EXPECT_EQ(primary->wait_for_exit(Duration{300}), std::nullopt) << primary->log();
  primary->terminate();
  EXPECT_EQ(primary->wait_for_exit(kTimeout), std::optional<int>(0)) << primary->log();
}

TEST(LifecycleWithoutAnArbiter, APrimaryWaitingForItsBackupRefusesClientsRatherThanHangThem) {
  SameCommands commands("", "early");
  auto primary = commands.start_primary();
  ASSERT_TRUE(primary->wait_for_event("waiting", kTimeout)) << primary->log();
  EXPECT_THROW(TcpClient early(commands.tcp_port()), std::runtime_error);
  auto backup = commands.start_backup();
  ASSERT_TRUE(primary->wait_for_console("counter: ready", kTimeout)) << primary->log();
  EXPECT_EQ(incr(commands.tcp_port()), ":1\r\n") << primary->log();
}

TEST(LifecycleWithoutAnArbiter, ABackupWithThePrimarysOwnIdIsRefused) {
  SameCommands commands("", "twins");
  auto args = commands.primary_args();
  args.insert(args.end(), {"--id", "twin"});
  VmftProcess primary("primary", "counter", args);
  ASSERT_TRUE(primary.wait_for_event("waiting", kTimeout)) << primary.log();
  auto backup_args = commands.backup_args();
  backup_args.insert(backup_args.end(), {"--id", "twin"});
  VmftProcess backup("backup", "counter", backup_args);
  EXPECT_EQ(backup.wait_for_exit(kTimeout), std::optional<int>(ft::kStartFailedExitCode))
      << backup.log();
  EXPECT_NE(backup.log().find("the backup has the primary's own id 'twin'"), std::string::npos)
      << backup.log();
}

TEST(LifecycleWithoutAnArbiter, ABackupGivesUpWaitingForItsPrimaryWhenAsked) {
  const uint16_t nobody = unused_port(SOCK_STREAM);
  const auto r = run_vmft({"backup", guest_path("counter"), "--name", "lonely", "--log-connect",
                           "127.0.0.1:" + std::to_string(nobody), "--wait-for-primary", "0.5"},
                          kTimeout);
  EXPECT_EQ(r.exit_code, ft::kStartFailedExitCode) << r.err;
  EXPECT_NE(r.err.find("no primary of pair 'lonely' answered"), std::string::npos) << r.err;
}

TEST(LifecycleWithoutAnArbiter, SigusrOneWritesAStatusLineNamingThePairAndEpoch) {
  SameCommands commands("", "status");
  std::unique_ptr<VmftProcess> primary, backup;
  ASSERT_TRUE(commands.start_pair(primary, backup));
  const size_t before = primary->log().size();
  ::kill(primary->pid(), SIGUSR1);
  EXPECT_TRUE(
      primary->wait_for_log("pair 'status' (no epoch yet), primary: instruction", before, kTimeout))
      << primary->log();
  ::kill(backup->pid(), SIGUSR1);
  EXPECT_TRUE(
      backup->wait_for_log("pair 'status' (no epoch yet), backup: at instruction", kTimeout))
      << backup->log();
}

TEST(LifecycleWithoutAnArbiter, APrimaryWhoseArbiterDoesNotAnswerExitsAtOnce) {
  const uint16_t nobody = unused_port(SOCK_STREAM);
  const auto r =
      run_vmft({"primary", guest_path("counter"), "--name", "p", "--log-listen", "127.0.0.1:0",
                "--tcp", "127.0.0.1:0", "--arbiter", "127.0.0.1:" + std::to_string(nobody)},
               kTimeout);
  EXPECT_EQ(r.exit_code, ft::kStartFailedExitCode) << r.err;
  EXPECT_NE(r.err.find("a primary starts only once its arbiter answers"), std::string::npos)
      << r.err;
  EXPECT_EQ(r.err.find("listening on tcp"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace vmft::integration
