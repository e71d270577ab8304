#pragma once
// A side's lifecycle events, typed: every change a person reads in the log and a program reads
// with --events is one of these, with its fields. The names (event_name) and the field names
// the JSON-lines sink writes are a contract with programs: add, never rename or remove.
//
//   waiting     a primary listens for its backup             log_port
//   paired      the two sides are a pair, the guest starts   (backup: primary, joined_at)
//   registered  the arbiter registered the pair, and the backup has the epoch   epoch
//   peer_lost   it lost its peer (a live side its backup, a backup its primary, whose log it
//               has run to its end); the arbiter decides next, if there is one
//                                                            reason or instruction
//   went_live   a backup won the pair and runs live          epoch, instruction
//   alone       a live side goes on without its backup       epoch, reason
//   lost        the arbiter gave the pair to the other side  epoch, holder
//   broken      lost its peer with no arbiter: stops         reason or instruction
//   join_started / joined   a backup joins this side (joined: epoch)
//   released    the pair released at the arbiter on a clean stop   epoch
//   diverged    a backup's run did not match its primary's   instruction
//   exited      the process ends                             code

#include <cstdint>
#include <optional>
#include <string>
#include <variant>

namespace vmft::ft {

/// In the order of Event's alternatives.
enum class EventKind {
  kWaiting,
  kPaired,
  kRegistered,
  kPeerLost,
  kWentLive,
  kAlone,
  kLost,
  kBroken,
  kJoinStarted,
  kJoined,
  kReleased,
  kDiverged,
  kExited,
};

/// "waiting", "paired", ..., as programs read them.
const char* event_name(EventKind kind);

struct Waiting {
  uint16_t log_port = 0;
};
struct Paired {
  std::optional<std::string> primary;  ///< a backup: the primary's log address
  std::optional<uint64_t> joined_at;   ///< a backup that joined: the snapshot's instruction
};
struct Registered {
  uint64_t epoch = 0;
};
struct PeerLost {
  std::optional<std::string> reason;    ///< a live side: how it lost its backup
  std::optional<uint64_t> instruction;  ///< a backup: where its primary's log ended
};
struct WentLive {
  uint64_t epoch = 0;
  uint64_t instruction = 0;
};
struct Alone {
  uint64_t epoch = 0;
  std::string reason;
};
struct Lost {
  uint64_t epoch = 0;
  std::string holder;
};
struct Broken {
  std::optional<std::string> reason;    ///< a live side: why it lost its backup
  std::optional<uint64_t> instruction;  ///< a backup: where its primary's log ended
};
struct JoinStarted {};
struct Joined {
  uint64_t epoch = 0;
};
struct Released {
  uint64_t epoch = 0;
};
struct Diverged {
  uint64_t instruction = 0;
};
struct Exited {
  int code = 0;
};

using Event = std::variant<Waiting, Paired, Registered, PeerLost, WentLive, Alone, Lost, Broken,
                           JoinStarted, Joined, Released, Diverged, Exited>;

inline EventKind kind_of(const Event& event) { return static_cast<EventKind>(event.index()); }

/// Where a side's events go. Any thread may emit; implementations serialise.
class EventSink {
 public:
  virtual ~EventSink() = default;
  virtual void emit(const Event& event) = 0;
};

}  // namespace vmft::ft
