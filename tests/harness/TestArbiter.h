#pragma once

#include <cstddef>
#include <memory>
#include <ostream>
#include <string>

#include "ArbiterProcess.h"
#include "EtcdCluster.h"
#include "vmft/arbiter/Arbiter.h"

namespace vmft::integration {

/// The arbiters the failover tests run against.
enum class ArbiterKind {
  kBuiltIn,      ///< a `vmft arbiter`
  kEtcd,         ///< a single etcd member
  kEtcdCluster,  ///< three etcd members
};

/// "BuiltIn", "Etcd", "EtcdCluster": for test names.
std::string arbiter_kind_name(ArbiterKind kind);
/// The same, for gtest's messages and ctest's test names.
void PrintTo(ArbiterKind kind, std::ostream* out);

/// An arbiter as a failover test meets it, whichever kind it is, on 127.0.0.1: what to pass
/// as --arbiter, kill -9 and restart, and what it decided.
class TestArbiter {
 public:
  virtual ~TestArbiter() = default;

  /// Starts one of `kind`. Throws std::runtime_error, quoting logs, if it does not serve.
  static std::unique_ptr<TestArbiter> start(ArbiterKind kind);

  /// For --arbiter.
  virtual std::string address() const = 0;
  /// SIGKILL to every process of it; returns once they have gone.
  virtual void kill() = 0;
  /// Starts it again on the same ports and state, after kill(); returns once it serves.
  virtual void restart() = 0;
  /// The pair's state, asked of it. Throws arbiter::ArbiterUnavailable.
  virtual arbiter::ArbiterState read(const std::string& pair) const = 0;
  /// What its processes logged.
  virtual std::string log() const = 0;
  /// The etcd cluster, for tests that kill one member; nullptr for the built-in arbiter.
  virtual EtcdCluster* etcd() { return nullptr; }
};

}  // namespace vmft::integration
