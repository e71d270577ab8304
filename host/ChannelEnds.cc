#include "vmft/host/ChannelEnds.h"

namespace vmft::host {

void ChannelPrimaryEnd::listen(Listener listener) {
  channel_.on_peer_lost(std::move(listener.peer_lost));
  channel_.on_join(std::move(listener.join));
  channel_.on_in_sync(std::move(listener.in_sync));
  channel_.on_epoch_acked(std::move(listener.epoch_acked));
}

void ChannelPrimaryEnd::accept_joiners() {
  channel_.accept(channel::ChannelPrimary::Accepting::kJoiners);
}

void ChannelPrimaryEnd::accept_nothing() {
  channel_.accept(channel::ChannelPrimary::Accepting::kNothing);
}

}  // namespace vmft::host
