#pragma once
// The arbiter kept in etcd: each pair's state is one key, and every decision is an etcd v3
// transaction that stores the new state only if the key is as it was read. etcd replicates
// it to a majority of its members before it answers, so no single machine's loss forgets a
// decision. docs/arbiter-protocol.md ("On etcd") has the keys, values and requests.

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::arbiter {

namespace detail {
class EtcdGateway;
}

/// Decides by the same rules as the built-in arbiter (Rules.h) on state kept in one etcd
/// cluster, reached through its JSON gateway (POST /v3/kv/range, /v3/kv/txn) at any of the
/// members listed. Each decision reads the pair's key, decides, and writes the new state in a
/// transaction that compares the key's revision with the one read; when another client
/// changed it in between, it decides again on what that client wrote. A decision is final
/// once its transaction has succeeded.
///
/// Each request goes to the member that answered last, and on to the next listed one when a
/// member cannot be reached, does not answer within the timeout, or answers an error (it has
/// no leader, say); ArbiterUnavailable when none answers. Since a request that timed out may
/// have taken effect, register_epoch counts a refusal that shows its own registration as
/// success, as ArbiterClient does. Blocking; any thread may call; calls are serialised.
class EtcdArbiter final : public Arbiter {
 public:
  /// About ArbiterClient's: a member that has lost its leader is passed over quickly.
  static constexpr std::chrono::milliseconds kDefaultTimeout{1000};

  /// The key that holds the pair's state: "vmft/arbiter/<pair>".
  static std::string key(const std::string& pair);

  /// `endpoints` are HOST:PORT of the client URLs (plain http) of one etcd cluster's members,
  /// in the order they are tried first. `timeout` bounds each request to one member,
  /// connecting included. Throws std::invalid_argument if the list is empty or an endpoint
  /// is malformed. Connects at the first call, not here.
  explicit EtcdArbiter(std::vector<std::string> endpoints,
                       std::chrono::milliseconds timeout = kDefaultTimeout);
  ~EtcdArbiter() override;
  EtcdArbiter(const EtcdArbiter&) = delete;
  EtcdArbiter& operator=(const EtcdArbiter&) = delete;

  ArbiterState read(const std::string& pair) override;
  RegisterResult register_epoch(const std::string& pair, uint64_t expected_epoch,
                                const std::string& id) override;
  TasResult test_and_set(const std::string& pair, uint64_t epoch, const std::string& id) override;
  ReleaseResult release(const std::string& pair, uint64_t epoch, const std::string& id) override;
  PairList list(size_t max) override;

 private:
  std::mutex mutex_;
  std::unique_ptr<detail::EtcdGateway> gateway_;  // used with mutex_ held
};

}  // namespace vmft::arbiter
