#include "vmft/ft/Events.h"

namespace vmft::ft {

static_assert(std::variant_size_v<Event> == static_cast<size_t>(EventKind::kExited) + 1,
              "EventKind lists Event's alternatives in order");

const char* event_name(EventKind kind) {
  switch (kind) {
    case EventKind::kWaiting: return "waiting";
    case EventKind::kPaired: return "paired";
    case EventKind::kRegistered: return "registered";
    case EventKind::kPeerLost: return "peer_lost";
    case EventKind::kWentLive: return "went_live";
    case EventKind::kAlone: return "alone";
    case EventKind::kLost: return "lost";
    case EventKind::kBroken: return "broken";
    case EventKind::kJoinStarted: return "join_started";
    case EventKind::kJoined: return "joined";
    case EventKind::kReleased: return "released";
    case EventKind::kDiverged: return "diverged";
    case EventKind::kExited: return "exited";
  }
  return "unknown";
}

}  // namespace vmft::ft
