#pragma once
// The test-and-set arbiter in the simulation: the same decision rules as every real arbiter
// (arbiter/Rules.h), its state in memory, answering at once, or, while the simulation has it
// down, not at all (ArbiterUnavailable, as a client that cannot reach it sees). While its disk
// is full it answers as `vmft arbiter` does (ArbiterStore): a decision that would change the
// state cannot be persisted, so none is made, and the client gets the error the server sends
// as `ERR cannot persist the decision ...` (ArbiterUnavailable, as arbiter::ArbiterClient
// turns an ERR reply into); answers that change nothing (LOST, a repeated WON) still come. It
// remembers every epoch it gave each holder, so that "never two sides live at one epoch" is
// checked against what it decided.
#include <map>
#include <set>
#include <string>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::sim {

class SimArbiter final : public arbiter::Arbiter {
 public:
  void set_down(bool down) { down_ = down; }
  bool down() const { return down_; }
  /// Its disk full (or failing): no decision that changes a pair's state can be persisted.
  void set_disk_full(bool full) { disk_full_ = full; }
  /// Who won test-and-set at each epoch of `pair` (a winner's repeated win counts once).
  std::map<uint64_t, std::set<std::string>> winners(const std::string& pair) const;

  arbiter::ArbiterState read(const std::string& pair) override;
  arbiter::RegisterResult register_epoch(const std::string& pair, uint64_t expected_epoch,
                                         const std::string& id) override;
  arbiter::TasResult test_and_set(const std::string& pair, uint64_t epoch,
                                  const std::string& id) override;
  arbiter::ReleaseResult release(const std::string& pair, uint64_t epoch,
                                 const std::string& id) override;
  PairList list(size_t max) override;

 private:
  void reachable() const;
  /// Makes `next` the pair's state, once persisted: as ArbiterStore::commit, it throws
  /// ArbiterUnavailable, changing nothing, while the disk is full.
  void commit(const std::string& pair, const arbiter::ArbiterState& next);

  bool down_ = false;
  bool disk_full_ = false;
  std::map<std::string, arbiter::ArbiterState> pairs_;
  std::map<std::string, std::map<uint64_t, std::set<std::string>>> winners_;
};

/// One simulated process's way to the arbiter: cut once the process is dead, so that what its
/// code still runs while the simulation ends it (a retry loop) decides nothing there.
class ArbiterLink final : public arbiter::Arbiter {
 public:
  explicit ArbiterLink(SimArbiter& arbiter) : arbiter_(arbiter) {}
  void cut() { cut_ = true; }
  /// A partition between the process and the arbiter (or its end).
  void set_reachable(bool reachable) { reachable_ = reachable; }
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
  SimArbiter& through();

  SimArbiter& arbiter_;
  bool cut_ = false;
  bool reachable_ = true;
  bool errors_are_wins_ = false;
};

}  // namespace vmft::sim
