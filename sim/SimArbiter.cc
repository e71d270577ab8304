#include "vmft/sim/SimArbiter.h"

#include <string_view>

#include "vmft/arbiter/Rules.h"

namespace vmft::sim {

void SimArbiter::reachable() const {
  if (down_) throw arbiter::ArbiterUnavailable("the simulated arbiter is down");
}

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

arbiter::ArbiterState SimArbiter::read(const std::string& pair) {
  reachable();
  return pairs_[pair];
}

arbiter::RegisterResult SimArbiter::register_epoch(const std::string& pair, uint64_t expected_epoch,
                                                   const std::string& id) {
  reachable();
  auto decision = arbiter::decide_register(pair, pairs_[pair], expected_epoch, id);
  if (decision.next) commit(pair, *decision.next);
  return decision.result;
}

arbiter::TasResult SimArbiter::test_and_set(const std::string& pair, uint64_t epoch,
                                            const std::string& id) {
  reachable();
  auto decision = arbiter::decide_test_and_set(pair, pairs_[pair], epoch, id);
  if (decision.next) commit(pair, *decision.next);
  if (decision.result.won) winners_[pair][epoch].insert(id);
  return decision.result;
}

arbiter::ReleaseResult SimArbiter::release(const std::string& pair, uint64_t epoch,
                                           const std::string& id) {
  reachable();
  auto decision = arbiter::decide_release(pairs_[pair], epoch, id);
  if (decision.next) commit(pair, *decision.next);
  return decision.result;
}

arbiter::Arbiter::PairList SimArbiter::list(size_t max) {
  reachable();
  PairList list;
  for (const auto& [name, state] : pairs_) {
    if (list.names.size() < max) list.names.push_back(name);
    ++list.total;
  }
  return list;
}

SimArbiter& ArbiterLink::through() {
  if (cut_) throw arbiter::ArbiterUnavailable("this process is dead");
  if (!reachable_) throw arbiter::ArbiterUnavailable("the arbiter is unreachable from here");
  return arbiter_;
}

arbiter::ArbiterState ArbiterLink::read(const std::string& pair) { return through().read(pair); }

arbiter::RegisterResult ArbiterLink::register_epoch(const std::string& pair,
                                                    uint64_t expected_epoch,
                                                    const std::string& id) {
  return through().register_epoch(pair, expected_epoch, id);
}

arbiter::TasResult ArbiterLink::test_and_set(const std::string& pair, uint64_t epoch,
                                             const std::string& id) {
  try {
    return through().test_and_set(pair, epoch, id);
  } catch (const arbiter::ArbiterUnavailable& e) {
    const bool error_reply = std::string_view(e.what()).starts_with("cannot persist");
    if (!errors_are_wins_ || !error_reply) throw;
    return {true, {epoch, arbiter::Mode::kAlone, id}};
  }
}

arbiter::ReleaseResult ArbiterLink::release(const std::string& pair, uint64_t epoch,
                                            const std::string& id) {
  return through().release(pair, epoch, id);
}

arbiter::Arbiter::PairList ArbiterLink::list(size_t max) { return through().list(max); }

}  // namespace vmft::sim
