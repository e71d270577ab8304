#include "EtcdCluster.h"

#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <stdexcept>
#include <thread>
#include <utility>

#include "EtcdGateway.h"  // arbiter's private gateway, to ask members for their status
#include "FreePort.h"
#include "vmft/arbiter/EtcdArbiter.h"

namespace vmft::integration {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

namespace {

// A port picked in advance can be taken before etcd binds it; the cluster then starts over
// on new ports, a few times.
constexpr int kStartAttempts = 3;
// Between two looks at whether a starting member serves yet.
constexpr Duration kPollInterval{20};
// One request while waiting for a member, and the reads of a test.
constexpr Duration kRequestTimeout{1000};
constexpr Duration kReadTimeout{5000};
// Where a member looks for reads until it serves.
const std::string kProbePair = "vmft-etcd-probe";

std::string url(uint16_t port) { return "http://127.0.0.1:" + std::to_string(port); }

}  // namespace

struct EtcdCluster::Member {
  std::string name;
  uint16_t client_port = 0;
  uint16_t peer_port = 0;
  std::unique_ptr<Subprocess> process;
  bool killed = false;
  std::string earlier_logs;  // of this member's earlier processes

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(client_port); }
  std::string log() const { return earlier_logs + (process ? process->stderr_text() : ""); }
  // Ends the process, if there is one, keeping what it logged.
  void retire(const std::string& why) {
    if (!process) return;
    process->signal_group(SIGKILL);
    process->wait_for_exit(kExitTimeout);
    earlier_logs += process->stderr_text() + "--- (" + why + ") ---\n";
    process.reset();
  }
};

EtcdCluster::EtcdCluster(size_t members) {
  if (members == 0) throw std::invalid_argument("an etcd cluster needs a member");
  std::string pattern = (fs::temp_directory_path() / "vmft-etcd-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
  dir_ = pattern;
  token_ = "vmft-test-" + dir_.filename().string();
  for (size_t i = 0; i < members; ++i) {
    members_.push_back(std::make_unique<Member>());
    members_.back()->name = "member-" + std::to_string(i);
  }
  try {
    start_all();
  } catch (...) {
    members_.clear();
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
    throw;
  }
}

EtcdCluster::~EtcdCluster() {
  members_.clear();
  std::error_code ignored;
  fs::remove_all(dir_, ignored);
}

void EtcdCluster::start_all() {
  for (int attempt = 1;; ++attempt) {
    for (auto& member : members_) {
      member->client_port = unused_port(SOCK_STREAM);
      member->peer_port = unused_port(SOCK_STREAM);
      fs::remove_all(dir_ / member->name);
    }
    for (auto& member : members_) start(*member, /*new_cluster=*/true);
    const auto deadline = Clock::now() + kStartTimeout;
    bool serving = true;
    for (const auto& member : members_) {
      const auto left = std::chrono::duration_cast<Duration>(deadline - Clock::now());
      if (!wait_until_serving(*member, std::max(left, Duration(0)))) {
        serving = false;
        break;
      }
    }
    if (serving) return;
    // A member that exited may have lost its port to another process; one that runs without
    // serving will not do better on other ports.
    bool exited = false;
    for (auto& member : members_) {
      exited = exited || member->process->wait_for_exit(Duration(0)).has_value();
      member->retire("did not start serving; stopped");
    }
    if (!exited || attempt == kStartAttempts) {
      throw std::runtime_error("etcd did not start serving within " +
                               std::to_string(kStartTimeout.count()) + " ms:\n" + log());
    }
  }
}

void EtcdCluster::start(Member& member, bool new_cluster) {
  std::string initial_cluster;
  for (const auto& m : members_) {
    initial_cluster += (initial_cluster.empty() ? "" : ",") + m->name + "=" + url(m->peer_port);
  }
  const std::vector<std::pair<std::string, std::string>> flags = {
      {"--name", member.name},
      {"--data-dir", (dir_ / member.name).string()},
      {"--listen-client-urls", url(member.client_port)},
      {"--advertise-client-urls", url(member.client_port)},
      {"--listen-peer-urls", url(member.peer_port)},
      {"--initial-advertise-peer-urls", url(member.peer_port)},
      {"--initial-cluster", initial_cluster},
      {"--initial-cluster-token", token_},
      {"--initial-cluster-state", new_cluster ? "new" : "existing"},
      {"--logger", "zap"},
      {"--log-outputs", "stderr"},
  };
  std::vector<std::string> argv = {"etcd"};
  for (const auto& [flag, value] : flags) argv.insert(argv.end(), {flag, value});
  try {
    member.process = std::make_unique<Subprocess>(argv);
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(std::string(e.what()) +
                             " (the etcd tests need Debian's etcd-server, which ./scripts/test "
                             "installs)");
  }
  member.killed = false;
}

bool EtcdCluster::wait_until_serving(const Member& member, Duration timeout) const {
  const auto deadline = Clock::now() + timeout;
  arbiter::EtcdArbiter probe({member.endpoint()}, kRequestTimeout);
  for (;;) {
    try {
      probe.read(kProbePair);  // linearizable: only a member of a cluster with a leader answers
      return true;
    } catch (const arbiter::ArbiterUnavailable&) {
    }
    if (member.process->wait_for_exit(Duration(0)) || Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::string EtcdCluster::endpoint(size_t member) const { return members_.at(member)->endpoint(); }

std::string EtcdCluster::address(size_t first) const {
  std::string text = "etcd://";
  text += endpoint(first);
  for (size_t i = 0; i < members_.size(); ++i) {
    if (i != first) text.append(",").append(endpoint(i));
  }
  return text;
}

void EtcdCluster::kill(size_t index) {
  Member& member = *members_.at(index);
  member.process->signal(SIGKILL);
  if (member.process->wait_for_exit(kExitTimeout) != 128 + SIGKILL) {
    throw std::runtime_error("etcd " + member.name + " did not die of SIGKILL:\n" + log());
  }
  member.killed = true;
}

void EtcdCluster::restart(size_t index) {
  Member& member = *members_.at(index);
  member.retire("killed; restarted");
  start(member, /*new_cluster=*/false);
  size_t running = 0;
  for (const auto& m : members_) running += m->killed ? 0 : 1;
  if (2 * running <= members_.size()) return;  // it cannot serve until more are back
  if (!wait_until_serving(member, kStartTimeout)) {
    throw std::runtime_error("etcd " + member.name + " did not serve again after a restart:\n" +
                             log());
  }
}

std::optional<size_t> EtcdCluster::leader() const {
  // Each live member says who it is and whom it follows.
  std::vector<std::optional<uint64_t>> ids(members_.size());
  std::optional<uint64_t> leader_id;
  for (size_t i = 0; i < members_.size(); ++i) {
    if (members_[i]->killed) continue;
    try {
      arbiter::detail::EtcdGateway gateway({members_[i]->endpoint()}, kRequestTimeout);
      const auto status = gateway.post("/v3/maintenance/status", nlohmann::json::object());
      ids[i] = std::stoull(status.at("header").at("member_id").get<std::string>());
      const uint64_t said = std::stoull(status.at("leader").get<std::string>());
      if (said != 0) leader_id = said;
    } catch (const std::exception&) {
      // A member that cannot say counts for nothing.
    }
  }
  for (size_t i = 0; i < members_.size(); ++i) {
    if (leader_id && ids[i] == leader_id) return i;
  }
  return std::nullopt;
}

arbiter::ArbiterState EtcdCluster::read(const std::string& pair) const {
  std::vector<std::string> endpoints;
  for (const auto& member : members_) {
    if (!member->killed) endpoints.push_back(member->endpoint());
  }
  // Members electing a leader answer 503 ("leader changed") for a moment, as a member just
  // killed leaves them to: ask again until kStartTimeout, as wait_until_serving does.
  arbiter::EtcdArbiter arbiter(endpoints, kReadTimeout);
  const auto deadline = Clock::now() + kStartTimeout;
  for (;;) {
    try {
      return arbiter.read(pair);
    } catch (const arbiter::ArbiterUnavailable&) {
      if (Clock::now() >= deadline) throw;
    }
    std::this_thread::sleep_for(kPollInterval);
  }
}

std::string EtcdCluster::log() const {
  std::string text;
  for (const auto& member : members_) {
    text += "--- etcd " + member->name + " (" + member->endpoint() + ") ---\n" + member->log();
  }
  return text;
}

}  // namespace vmft::integration
