#include "vmft/sim/SimPrimaryEnd.h"

namespace vmft::sim {

void SimPrimaryEnd::listen(Listener listener) {
  listener_ = std::move(listener);
  link_.listen({
      .peer_lost =
          [this](const std::string& why) {
            accepting_joiners_ = false;  // as the channel does when it loses its backup
            if (listener_.peer_lost) listener_.peer_lost(why);
          },
      .epoch_acked =
          [this](uint64_t epoch) {
            if (listener_.epoch_acked) listener_.epoch_acked(epoch);
          },
  });
}

}  // namespace vmft::sim
