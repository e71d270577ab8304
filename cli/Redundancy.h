#pragma once
// The live side of a pair (a primary, or a backup that went live) and its backup: what happens
// when the backup is lost (the arbiter decides whether this side goes on alone), and how a new
// backup joins a side that runs alone (RAM copied while the guest runs, a short pause for the
// rest and the snapshot, then a new epoch at the arbiter). Its decisions run on a thread of
// its own, so the guest and the io thread never wait for the arbiter.
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "Events.h"
#include "vmft/arbiter/Arbiter.h"
#include "vmft/channel/PrimaryEnd.h"
#include "vmft/hypervisor/InputQueue.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/hypervisor/OutputGate.h"

namespace vmft::cli {

/// Between attempts to reach an arbiter that does not answer.
inline constexpr auto kArbiterRetry = std::chrono::milliseconds(100);

/// Asks the arbiter until it answers, saying so while it cannot be reached; nullopt if a stop
/// was requested first. Nobody acts without an answer.
template <typename F>
auto ask_arbiter(const std::string& address, hypervisor::InputQueue& stop, F&& call)
    -> std::optional<decltype(call())> {
  auto last_said = std::chrono::steady_clock::now() - std::chrono::hours(1);
  for (;;) {
    try {
      return call();
    } catch (const arbiter::ArbiterUnavailable& e) {
      if (std::chrono::steady_clock::now() - last_said >= std::chrono::seconds(5)) {
        spdlog::warn("cannot get a decision from the arbiter at {}: {}; trying again", address,
                     e.what());
        last_said = std::chrono::steady_clock::now();
      }
    }
    if (stop.stop_requested()) return std::nullopt;
    std::this_thread::sleep_for(kArbiterRetry);
  }
}

/// How long a side that stops cleanly tries to release its pair at the arbiter.
inline constexpr auto kReleaseDeadline = std::chrono::seconds(3);

/// Releases `pair` at `epoch`, which `me` holds, at the arbiter: a side that stops cleanly ends
/// the pair there, so that the same commands can start it again. Tries for kReleaseDeadline,
/// then says how an operator can do it. Returns whether the arbiter released it.
bool release_at_arbiter(arbiter::Arbiter& arbiter, const std::string& address,
                        const std::string& pair, uint64_t epoch, const std::string& me);

class Redundancy {
 public:
  struct Setup {
    std::string pair;
    std::string side;  ///< "primary" or "live side" (a backup that went live), for messages
    std::string me;    ///< this process's id at the arbiter
    std::string arbiter_address;
    arbiter::Arbiter* arbiter = nullptr;  ///< none: a lost backup stops this side
    channel::ChannelPrimary& channel;
    hypervisor::OutputGate& gate;
    hypervisor::InputQueue& inputs;
    EventLog* events = nullptr;  ///< none: no lifecycle events for programs
  };
  /// How this side stands.
  enum class State {
    kPaired,    ///< registered with a backup in sync
    kDeciding,  ///< its backup is lost; the arbiter has not answered yet
    kAlone,     ///< runs without a backup (and takes one that joins)
    kJoining,   ///< a backup joins
    kBroken,    ///< lost its backup with no arbiter to decide: stops
    kLost,      ///< the arbiter gave the pair to the other side: stops
  };

  /// Takes over the channel's on_peer_lost, on_join and on_in_sync.
  explicit Redundancy(Setup setup);
  /// Stops the decisions' thread (see stop()).
  ~Redundancy();

  /// The machine and where its log stands (vCPU thread), for snapshots of it; before any
  /// backup joins.
  void set_machine(hypervisor::Machine& machine, std::function<uint64_t()> last_seq);
  /// Paired at `epoch` (a primary whose first backup is in sync; 0: never registered).
  void paired(uint64_t epoch);
  /// Runs alone at `epoch`, which this side won (a backup that went live): backups may join.
  void alone(uint64_t epoch);
  /// Sends the backup `epoch`, newly registered, and logs `announcement` once the backup says
  /// it has it: only from then on can it claim the epoch and take over, so only then is the
  /// pair fault tolerant. Any thread.
  void announce_epoch(uint64_t epoch, std::string announcement, const char* event);
  /// Ends the decisions' thread once its current step is over (after the machine stopped,
  /// before it goes). Any thread but the io thread.
  void stop();

  State state() const { return state_; }
  uint64_t epoch() const { return epoch_; }
  /// Backups that joined this side and were registered with it (any thread).
  uint64_t joins() const { return joins_; }

 private:
  void post(std::function<void()> task);
  void work();
  void lost(const std::string& why);
  void decide();
  void take_joiner(uint64_t session);
  void register_joined();
  void epoch_acked(uint64_t epoch);
  /// Runs `task` on the vCPU thread at its next safe point and waits for it; false if the
  /// run ended or stop() came first.
  bool on_vcpu(const std::function<void(hypervisor::Machine&)>& task);
  void go_on_alone();
  void emit(const char* event, nlohmann::json fields = nlohmann::json::object());

  Setup s_;
  hypervisor::Machine* machine_ = nullptr;
  std::function<uint64_t()> last_seq_;
  std::atomic<State> state_{State::kAlone};
  std::atomic<uint64_t> epoch_{0};
  std::atomic<uint64_t> joins_{0};
  bool join_in_sync_ = false;  ///< io thread: the joiner's registration has begun
  std::chrono::steady_clock::time_point join_started_;
  std::mutex announcing_mutex_;
  /// The epoch sent to the backup, and what to log and emit once it has it.
  struct Announcing {
    uint64_t epoch;
    std::string text;
    const char* event;
  };
  std::optional<Announcing> announcing_;

  std::mutex mutex_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> tasks_;
  bool stopping_ = false;
  std::thread worker_;
};

}  // namespace vmft::cli
