#pragma once
// The live side of a pair (a primary, or a backup that went live) and its backup: what happens
// when the backup is lost (the arbiter decides whether this side goes on alone), and how a new
// backup joins a side that runs alone (see PreCopy.h, then a new epoch at the arbiter). Its
// decisions run on a worker (a thread of its own, unless it is given one), so the guest and the
// io thread never wait for the arbiter. Its collaborators are injected: the channel's primary
// end, the arbiter, the clock, where events go and the worker.

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "vmft/ft/ArbiterClient.h"
#include "vmft/ft/Clock.h"
#include "vmft/ft/Events.h"
#include "vmft/ft/PreCopy.h"
#include "vmft/ft/PrimaryEnd.h"
#include "vmft/ft/Worker.h"
#include "vmft/hypervisor/InputQueue.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/hypervisor/OutputGate.h"

namespace vmft::ft {

class LiveSide {
 public:
  struct Setup {
    std::string pair;
    std::string side;  ///< "primary" or "live side" (a backup that went live), for messages
    std::string me;    ///< this process's id at the arbiter
    ArbiterClient* arbiter = nullptr;  ///< none: a lost backup stops this side
    PrimaryEnd& channel;
    hypervisor::OutputGate& gate;
    hypervisor::InputQueue& inputs;
    Clock& clock;
    EventSink* events = nullptr;  ///< none: no lifecycle events for programs
    /// Where its decisions run and wait; it outlives the live side. None: a ThreadWorker of
    /// its own. A worker that is given sleeps on `clock`, which must be one it can wait on.
    Worker* worker = nullptr;
    /// How a join's pause hashes RAM (see PreCopy.h). None: on two threads.
    PageHasher hash_pages = {};
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

  /// Listens to the channel's end (its peer_lost, join, in_sync and epoch_acked).
  explicit LiveSide(Setup setup);
  /// Stops the decisions' worker (see stop()).
  ~LiveSide();
  LiveSide(const LiveSide&) = delete;
  LiveSide& operator=(const LiveSide&) = delete;

  /// The machine and where its log stands (vCPU thread), for snapshots of it; before any
  /// backup joins. A backup that joins before it is set is not taken.
  void set_machine(hypervisor::Machine& machine, std::function<uint64_t()> last_seq);
  /// Paired at `epoch` (a primary whose first backup is in sync; 0: never registered).
  void paired(uint64_t epoch);
  /// Runs alone at `epoch`, which this side won (a backup that went live): backups may join.
  void alone(uint64_t epoch);
  /// Sends the backup `epoch`, newly registered, and logs `announcement` and emits `event` once
  /// the backup says it has it: only from then on can it claim the epoch and take over, so only
  /// then is the pair fault tolerant. Any thread.
  void announce_epoch(uint64_t epoch, std::string announcement, Event event);
  /// Ends the decisions' worker once its current step is over (after the machine stopped,
  /// before it goes). Any thread but the io thread.
  void stop();

  State state() const { return state_; }
  uint64_t epoch() const { return epoch_; }
  /// Backups that joined this side and were registered with it (any thread).
  uint64_t joins() const { return joins_; }
  /// Whether the run ended with the pair in hand (paired, alone, or taking a joiner) at a
  /// registered epoch.
  bool holds_pair() const;
  /// After stop(): a side whose run ended with the pair in hand ends it at the arbiter, so that
  /// the same commands start it again (its backup, if any, has the log's end and stops too),
  /// and emits released. A side that lost the pair, or was still asking, leaves it as it is.
  /// Returns whether the arbiter released it.
  bool release_if_held();
  /// The exit code of a run that stopped on this side's decision: the pair lost
  /// (kLostPairExitCode) or broken (kPairBrokenExitCode); nullopt if it did not decide to stop.
  std::optional<int> stop_exit_code() const;

 private:
  void post(std::function<void()> task);
  void lost(const std::string& why);
  void join_started(uint64_t session);
  void decide();
  void register_joined();
  void epoch_acked(uint64_t epoch);
  bool on_vcpu(const std::function<void(hypervisor::Machine&)>& task);
  void go_on_alone();
  void emit(const Event& event);

  Setup s_;
  std::atomic<hypervisor::Machine*> machine_{nullptr};
  std::function<uint64_t()> last_seq_;
  std::atomic<State> state_{State::kAlone};
  std::atomic<uint64_t> epoch_{0};
  std::atomic<uint64_t> joins_{0};
  bool join_in_sync_ = false;  ///< io thread: the joiner's registration has begun
  Clock::TimePoint join_started_;
  std::mutex announcing_mutex_;
  /// The epoch sent to the backup, and what to log and emit once it has it.
  struct Announcing {
    uint64_t epoch;
    std::string text;
    Event event;
  };
  std::optional<Announcing> announcing_;

  std::unique_ptr<ThreadWorker> own_worker_;  ///< none when the setup gave one
  Worker* worker_ = nullptr;
};

}  // namespace vmft::ft
