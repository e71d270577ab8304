#pragma once
// The test-and-set arbiter's decisions in the simulation: the same decision rules as every real
// arbiter (arbiter/Rules.h), its state in memory; SimArbiterServer serves them on the simulated
// network. While its disk is full it decides as ArbiterStore does when it cannot persist: a
// decision that would change the state is not made, and the call throws what the store throws
// (ArbiterUnavailable "cannot persist the decision ...", which the server sends as `ERR ...`);
// answers that change nothing (LOST, a repeated WON) still come. It remembers every epoch it
// gave each holder, so that "never two sides live at one epoch" is checked against what it
// decided.
#include <map>
#include <set>
#include <string>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::sim {

class SimArbiter final : public arbiter::Arbiter {
 public:
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
  /// Makes `next` the pair's state, once persisted: as ArbiterStore::commit, it throws
  /// ArbiterUnavailable, changing nothing, while the disk is full.
  void commit(const std::string& pair, const arbiter::ArbiterState& next);

  bool disk_full_ = false;
  std::map<std::string, arbiter::ArbiterState> pairs_;
  std::map<std::string, std::map<uint64_t, std::set<std::string>>> winners_;
};

}  // namespace vmft::sim
