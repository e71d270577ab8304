#include "vmft/sim/ArbiterLink.h"

#include <memory>
#include <string_view>

#include "vmft/sim/SimLineWire.h"

namespace vmft::sim {

ArbiterLink::ArbiterLink(Network& network, const NodeId& node, Parker& parker,
                         const std::string& address)
    : client_(address, std::make_unique<SimLineWire>(network, node, parker), kTimeout) {}

arbiter::ArbiterState ArbiterLink::read(const std::string& pair) { return client_.read(pair); }

arbiter::RegisterResult ArbiterLink::register_epoch(const std::string& pair,
                                                    uint64_t expected_epoch,
                                                    const std::string& id) {
  return client_.register_epoch(pair, expected_epoch, id);
}

arbiter::TasResult ArbiterLink::test_and_set(const std::string& pair, uint64_t epoch,
                                             const std::string& id) {
  try {
    return client_.test_and_set(pair, epoch, id);
  } catch (const arbiter::ArbiterUnavailable& e) {
    // What the real client makes of the reply `ERR cannot persist ...`.
    const bool error_reply =
        std::string_view(e.what()).find("answered: cannot persist") != std::string_view::npos;
    if (!errors_are_wins_ || !error_reply) throw;
    return {true, {epoch, arbiter::Mode::kAlone, id}};
  }
}

arbiter::ReleaseResult ArbiterLink::release(const std::string& pair, uint64_t epoch,
                                            const std::string& id) {
  return client_.release(pair, epoch, id);
}

arbiter::Arbiter::PairList ArbiterLink::list(size_t max) { return client_.list(max); }

}  // namespace vmft::sim
