#pragma once
// The test-and-set arbiter as the failover code sees it. For each pair of VMs it keeps an
// epoch, who holds it, and whether the pair runs paired or alone; docs/arbiter-protocol.md
// gives the rules. Implementations: ArbiterClient (the built-in arbiter over TCP), EtcdArbiter
// (the state kept in etcd) and ArbiterStore (the decisions themselves, in process);
// connect_arbiter (ConnectArbiter.h) picks the client that an --arbiter address names.

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace vmft::arbiter {

/// How a pair runs at its current epoch.
enum class Mode {
  kNone,    ///< never registered (epoch 0)
  kPaired,  ///< a primary registered the epoch with its backup in sync
  kAlone,   ///< one side won test-and-set for the epoch and runs without its peer
  /// The side that held the epoch stopped the pair cleanly (or an operator released it): no
  /// side runs, nobody may win the epoch, and any primary may register the next one.
  kReleased,
};

/// The protocol's spelling: "none", "paired", "alone", "released".
std::string_view mode_name(Mode mode);
/// The inverse of mode_name; nullopt for anything else.
std::optional<Mode> parse_mode(std::string_view name);

/// One pair's state.
struct ArbiterState {
  uint64_t epoch = 0;  ///< 0: never registered
  Mode mode = Mode::kNone;
  /// Who registered (paired) or won (alone); empty for Mode::kNone and Mode::kReleased.
  std::string holder;

  bool operator==(const ArbiterState&) const = default;
};

/// "epoch 3, alone, held by backup-1", "epoch 3, released" or "never registered", for messages.
std::string describe(const ArbiterState& state);

struct RegisterResult {
  bool ok = false;
  /// On success: the new epoch, paired, held by the caller. Refused: the pair's state.
  ArbiterState state;
};

struct TasResult {
  bool won = false;
  /// Won: the epoch, alone, held by the caller. Lost: the pair's state, naming the holder.
  ArbiterState state;
};

struct ReleaseResult {
  bool ok = false;
  /// Released: the epoch, released. Refused: the pair's state.
  ArbiterState state;
};

/// The arbiter could not be reached, did not answer in time, or could not decide (it answered
/// ERR: an unknown epoch, a failure to persist, ...). what() says which. Nobody may act as if
/// it had won: the caller tries again later.
class ArbiterUnavailable : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Pair names are 1..64 of [A-Za-z0-9._-] (they name files). Throws std::invalid_argument
/// saying what is wrong.
void check_pair_name(std::string_view pair);
/// Holder ids are 1..128 printable non-space ASCII characters, and not "-" (which the protocol
/// writes for "nobody"). Throws std::invalid_argument saying what is wrong.
void check_holder_id(std::string_view id);

/// A network address as the arbiter's clients take it.
struct HostPort {
  std::string host;  ///< a host name or an IPv4 address
  std::string port;  ///< decimal, 1..65535
};
/// Splits "HOST:PORT". Throws std::invalid_argument naming `what` (e.g. "arbiter address")
/// and `text` if there is no host or the port is not a number from 1 to 65535.
HostPort split_host_port(const std::string& text, const std::string& what);

/// The arbiter's operations. Implementations are blocking and may be called from any
/// thread. A bad pair name or id throws std::invalid_argument (see check_pair_name); anything
/// that prevents a decision throws ArbiterUnavailable.
class Arbiter {
 public:
  virtual ~Arbiter() = default;

  /// The pair's current state.
  virtual ArbiterState read(const std::string& pair) = 0;

  /// Registers the pair at expected_epoch + 1, paired, held by `id`, if it is at
  /// expected_epoch and either never registered or held by `id`. A primary calls it when its
  /// backup is in sync: at first pairing (expected 0) and after a backup re-joins.
  virtual RegisterResult register_epoch(const std::string& pair, uint64_t expected_epoch,
                                        const std::string& id) = 0;

  /// Test-and-set for `epoch`: the first caller for a paired epoch wins and the pair goes
  /// alone; every later caller loses and learns the holder, except the winner itself, whose
  /// retry wins again. A stale epoch loses. An epoch the arbiter never registered (above the
  /// current one, or a pair never registered) throws ArbiterUnavailable.
  virtual TasResult test_and_set(const std::string& pair, uint64_t epoch,
                                 const std::string& id) = 0;

  /// Ends the pair's `epoch`, which `id` holds (paired or alone): the pair is then released,
  /// nobody can win the epoch any more, and any primary may register the next. Refused with
  /// the state when the pair is at another epoch or held by another id; releasing a released
  /// epoch again succeeds (a retry). A side calls it when it stops cleanly, an operator when
  /// neither side runs any more.
  virtual ReleaseResult release(const std::string& pair, uint64_t epoch, const std::string& id) = 0;

  /// The names of the pairs the arbiter has a state for, sorted, at most `max` of them (the
  /// first ones), and how many there are in all.
  struct PairList {
    std::vector<std::string> names;
    uint64_t total = 0;
  };
  virtual PairList list(size_t max) = 0;
};

}  // namespace vmft::arbiter
