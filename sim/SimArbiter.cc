#include "vmft/sim/SimArbiter.h"

#include "vmft/arbiter/Rules.h"

namespace vmft::sim {

void SimArbiter::commit(const std::string& pair, const arbiter::ArbiterState& next) {
  if (disk_full_) {
    throw arbiter::ArbiterUnavailable("cannot persist the decision for pair '" + pair +
                                      "', so none was made: No space left on device");
  }
  pairs_[pair] = next;
}

std::map<uint64_t, std::set<std::string>> SimArbiter::winners(const std::string& pair) const {
  const auto it = winners_.find(pair);
  return it == winners_.end() ? std::map<uint64_t, std::set<std::string>>{} : it->second;
}

arbiter::ArbiterState SimArbiter::read(const std::string& pair) { return pairs_[pair]; }

arbiter::RegisterResult SimArbiter::register_epoch(const std::string& pair, uint64_t expected_epoch,
                                                   const std::string& id) {
  auto decision = arbiter::decide_register(pair, pairs_[pair], expected_epoch, id);
  if (decision.next) commit(pair, *decision.next);
  return decision.result;
}

arbiter::TasResult SimArbiter::test_and_set(const std::string& pair, uint64_t epoch,
                                            const std::string& id) {
  auto decision = arbiter::decide_test_and_set(pair, pairs_[pair], epoch, id);
  if (decision.next) commit(pair, *decision.next);
  if (decision.result.won) winners_[pair][epoch].insert(id);
  return decision.result;
}

arbiter::ReleaseResult SimArbiter::release(const std::string& pair, uint64_t epoch,
                                           const std::string& id) {
  auto decision = arbiter::decide_release(pairs_[pair], epoch, id);
  if (decision.next) commit(pair, *decision.next);
  return decision.result;
}

arbiter::Arbiter::PairList SimArbiter::list(size_t max) {
  PairList list;
  for (const auto& [name, state] : pairs_) {
    if (list.names.size() < max) list.names.push_back(name);
    ++list.total;
  }
  return list;
}

}  // namespace vmft::sim
