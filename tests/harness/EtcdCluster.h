#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "Subprocess.h"
#include "vmft/arbiter/Arbiter.h"

namespace vmft::integration {

/// Real etcd (Debian's etcd-server, `etcd` in PATH) on 127.0.0.1: one member, or several
/// forming one cluster. Each member has a client and a peer port fixed in advance and a data
/// directory under one temporary directory, removed at the end with every member killed. A
/// test can kill a member and start it again on the same ports and data, as an operator
/// restarts a crashed one. Without etcd installed, the constructor throws saying so.
class EtcdCluster {
 public:
  /// etcd's first election waits up to an election timeout (1 s); a loaded machine is slower.
  static constexpr Duration kStartTimeout{30000};
  static constexpr Duration kExitTimeout{10000};

  /// Starts `members` members and waits until each serves linearizable reads (so the cluster
  /// has a leader). Throws std::runtime_error quoting their logs if they do not.
  explicit EtcdCluster(size_t members = 1);
  ~EtcdCluster();
  EtcdCluster(const EtcdCluster&) = delete;
  EtcdCluster& operator=(const EtcdCluster&) = delete;

  size_t size() const { return members_.size(); }
  /// "127.0.0.1:<client port>" of one member.
  std::string endpoint(size_t member) const;
  /// "etcd://<every member's endpoint>", for --arbiter; `first` is listed first.
  std::string address(size_t first = 0) const;

  /// SIGKILL to one member, and waits until it has gone. Throws std::runtime_error if it
  /// has not gone within kExitTimeout.
  void kill(size_t member);
  /// Starts a killed member again on the same ports and data directory and, if a majority
  /// of the members runs now, waits until it serves reads (a minority cannot). Throws
  /// std::runtime_error quoting the logs if it does not.
  void restart(size_t member);
  /// The member the live ones name as their leader, asked of each in turn; nullopt if none
  /// names one that is a member here.
  std::optional<size_t> leader() const;

  /// The pair's state, read from the cluster through EtcdArbiter. Throws
  /// arbiter::ArbiterUnavailable.
  arbiter::ArbiterState read(const std::string& pair) const;
  /// What every member logged, the killed ones included.
  std::string log() const;

 private:
  struct Member;

  void start_all();
  void start(Member& member, bool new_cluster);
  bool wait_until_serving(const Member& member, Duration timeout) const;

  std::filesystem::path dir_;
  std::vector<std::unique_ptr<Member>> members_;
  std::string token_;  // the cluster's --initial-cluster-token, unique per cluster
};

}  // namespace vmft::integration
