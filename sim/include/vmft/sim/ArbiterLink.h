#pragma once
// One simulated process's way to the arbiter, from one of its fibers (a side's live-side worker,
// or the vCPU a backup claims the pair on): the real arbiter::ArbiterClient over a SimLineWire
// from the process's node to the arbiter's, its waits parking the fiber. So what a side hears is
// what `vmft primary` or `vmft backup` would: a reply line parsed by the real client, `ERR` as
// ArbiterUnavailable, a refused connection when the arbiter is down, a timeout when a partition
// stands between them. Each fiber has its own link (its own connection): the client holds its
// lock across a call, and a second fiber waiting for it on the simulation's one thread would
// never get it.
#include <chrono>
#include <string>

#include "vmft/arbiter/Arbiter.h"
#include "vmft/arbiter/ArbiterClient.h"
#include "vmft/sim/Network.h"
#include "vmft/sim/Parker.h"

namespace vmft::sim {

class ArbiterLink final : public arbiter::Arbiter {
 public:
  /// The client's timeout in the simulation. A reachable arbiter answers within four network
  /// latencies (a connect and a request, 1.6 ms at most); the real 1000 ms would make a side
  /// cut off from the arbiter try again up to a second after the partition healed, beyond the
  /// scenario's bound on a decision (a retry interval and this, plus a little).
  static constexpr std::chrono::milliseconds kTimeout{5};

  /// `address`: the arbiter's, "<node>:<port>" (SimArbiterServer::address). Keeps references to
  /// `network` and `parker`.
  ArbiterLink(Network& network, const NodeId& node, Parker& parker, const std::string& address);

  /// Only for the test that breaks the pair with it: the process takes the arbiter's error
  /// reply to a test-and-set (`ERR cannot persist ...`) for a win, as a client whose reply
  /// parsing were broken would.
  void take_errors_for_wins() { errors_are_wins_ = true; }

  arbiter::ArbiterState read(const std::string& pair) override;
  arbiter::RegisterResult register_epoch(const std::string& pair, uint64_t expected_epoch,
                                         const std::string& id) override;
  arbiter::TasResult test_and_set(const std::string& pair, uint64_t epoch,
                                  const std::string& id) override;
  arbiter::ReleaseResult release(const std::string& pair, uint64_t epoch,
                                 const std::string& id) override;
  PairList list(size_t max) override;

 private:
  arbiter::ArbiterClient client_;
  bool errors_are_wins_ = false;
};

}  // namespace vmft::sim
