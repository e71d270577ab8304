#include "vmft/ft/LiveSide.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <memory>

#include "vmft/ft/ExitCodes.h"
#include "vmft/ft/PreCopy.h"

namespace vmft::ft {

LiveSide::LiveSide(Setup setup) : s_(std::move(setup)) {
  s_.channel.listen({
      .peer_lost = [this](const std::string& why) { lost(why); },
      .join = [this](uint64_t session) { join_started(session); },
      .in_sync =
          [this] {
            join_in_sync_ = true;
            post([this] { register_joined(); });
          },
      .epoch_acked = [this](uint64_t epoch) { epoch_acked(epoch); },
  });
  worker_ = s_.worker;
  if (!worker_) {
    own_worker_ = std::make_unique<ThreadWorker>();
    worker_ = own_worker_.get();
  }
}

LiveSide::~LiveSide() { stop(); }

void LiveSide::set_machine(hypervisor::Machine& machine, std::function<uint64_t()> last_seq) {
  last_seq_ = std::move(last_seq);
  machine_ = &machine;
}

void LiveSide::paired(uint64_t epoch) {
  epoch_ = epoch;
  state_ = State::kPaired;
}

void LiveSide::alone(uint64_t epoch) {
  epoch_ = epoch;
  go_on_alone();
}

bool LiveSide::holds_pair() const {
  const State state = state_;
  return epoch_ != 0 &&
         (state == State::kPaired || state == State::kAlone || state == State::kJoining);
}

bool LiveSide::release_if_held() {
  if (!s_.arbiter || !holds_pair()) return false;
  if (!s_.arbiter->release(s_.pair, epoch_, s_.me)) return false;
  emit(Released{epoch_});
  return true;
}

std::optional<int> LiveSide::stop_exit_code() const {
  switch (state_.load()) {
    case State::kLost: return kLostPairExitCode;
    case State::kBroken: return kPairBrokenExitCode;
    default: return std::nullopt;
  }
}

void LiveSide::announce_epoch(uint64_t epoch, std::string announcement, Event event) {
  {
    std::lock_guard lock(announcing_mutex_);
    announcing_ = Announcing{epoch, std::move(announcement), std::move(event)};
  }
  s_.channel.send_epoch(epoch);
}

// io thread.
void LiveSide::epoch_acked(uint64_t epoch) {
  std::lock_guard lock(announcing_mutex_);
  if (!announcing_ || announcing_->epoch != epoch) return;
  spdlog::info("{}", announcing_->text);
  emit(announcing_->event);
  announcing_.reset();
}

void LiveSide::stop() { worker_->stop(); }

void LiveSide::post(std::function<void()> task) { worker_->post(std::move(task)); }

// Callers say so only after it: whoever reads that this side goes on alone may send it a
// joiner at once, which must not be refused. Without an arbiter it takes none: a joiner makes
// the pair whole only through a new epoch registered there.
void LiveSide::go_on_alone() {
  state_ = State::kAlone;
  s_.gate.open();
  if (s_.arbiter) s_.channel.accept_joiners();
}

// io thread.
void LiveSide::join_started(uint64_t session) {
  state_ = State::kJoining;
  join_in_sync_ = false;
  join_started_ = s_.clock.now();
  emit(JoinStarted{});
  post([this, session] {
    copy_to_joiner(
        {s_.pair, s_.channel, s_.gate, s_.clock, [this](const auto& task) { return on_vcpu(task); },
         [this] { return last_seq_(); }, s_.hash_pages},
        session);
  });
}

// io thread. A backup still joining, that the arbiter never heard of, can just be forgotten;
// one the pair is (or is being) registered with is a peer the arbiter decides between.
void LiveSide::lost(const std::string& why) {
  // No other backup until what comes next is decided: on the io thread, before the channel
  // can take one.
  s_.channel.accept_nothing();
  const State state = state_;
  if (state == State::kPaired || state == State::kJoining) emit(PeerLost{why, std::nullopt});
  if (state == State::kJoining && !join_in_sync_) {
    go_on_alone();
    spdlog::warn("{}; it was joining pair '{}': this {} goes on alone", why, s_.pair, s_.side);
    emit(Alone{epoch_, "the joining backup is gone"});
    return;
  }
  if (state != State::kPaired && state != State::kJoining) return;
  if (s_.channel.backup_left()) {
    // It will not claim the pair: without an arbiter this side just goes on; with one, it
    // wins the epoch there, so that a backup that joins later registers a new one.
    if (!s_.arbiter) {
      go_on_alone();
      spdlog::info("{}; this {} of pair '{}' goes on alone", why, s_.side, s_.pair);
      emit(Alone{epoch_, "the backup left"});
      return;
    }
    spdlog::info("{}; telling the arbiter at {} that this {} goes on alone", why,
                 s_.arbiter->address(), s_.side);
    state_ = State::kDeciding;
    post([this] { decide(); });
    return;
  }
  if (!s_.arbiter) {
    spdlog::error("{}; with no arbiter to decide, this {} stops rather than go on alone", why,
                  s_.side);
    state_ = State::kBroken;
    emit(Broken{why, std::nullopt});
    s_.inputs.request_stop();
    return;
  }
  spdlog::warn("{}; asking the arbiter at {} whether this {} goes on alone", why,
               s_.arbiter->address(), s_.side);
  state_ = State::kDeciding;
  post([this] { decide(); });
}

void LiveSide::decide() {
  const auto result = s_.arbiter->test_and_set(s_.pair, epoch_, s_.me, s_.inputs);
  if (!result) return;  // stopped
  if (result->won) {
    const bool left = s_.channel.backup_left();
    go_on_alone();
    spdlog::warn("the arbiter gave pair '{}' to this {} at epoch {}: going on alone", s_.pair,
                 s_.side, epoch_.load());
    emit(Alone{epoch_, left ? "the backup left" : "the backup was lost"});
    return;
  }
  spdlog::error(
      "the arbiter gave pair '{}' to the other side ({}): this {} halts and sends nothing more",
      s_.pair, arbiter::describe(result->state), s_.side);
  state_ = State::kLost;
  emit(Lost{epoch_, result->state.holder});
  s_.inputs.request_stop();
}

void LiveSide::emit(const Event& event) {
  if (s_.events) s_.events->emit(event);
}

bool LiveSide::on_vcpu(const std::function<void(hypervisor::Machine&)>& task) {
  hypervisor::Machine* machine = machine_;
  if (!machine) {
    spdlog::error("a backup cannot join: the guest does not run yet");
    return false;
  }
  auto done = std::make_shared<Completion>();
  machine->at_next_boundary([task, done](hypervisor::Machine& machine) {
    try {
      task(machine);
      done->set(true);
    } catch (const std::exception& e) {
      spdlog::error("a backup cannot join: {}", e.what());
      done->set(false);
    }
  });
  return worker_->wait(*done) && done->ok();
}

// The joined backup runs from the snapshot on: a new epoch makes the pair whole again.
void LiveSide::register_joined() {
  const auto registered = s_.arbiter->register_epoch(s_.pair, epoch_, s_.me, s_.inputs);
  if (!registered) return;  // stopped
  if (!registered->ok) {
    spdlog::error(
        "the arbiter will not register pair '{}' for this {} now that a backup joined: it is at "
        "{}. This {} halts",
        s_.pair, s_.side, arbiter::describe(registered->state), s_.side);
    state_ = State::kLost;
    emit(Lost{registered->state.epoch, registered->state.holder});
    s_.inputs.request_stop();
    return;
  }
  epoch_ = registered->state.epoch;
  ++joins_;
  State joining = State::kJoining;
  state_.compare_exchange_strong(joining, State::kPaired);  // unless it was lost meanwhile
  announce_epoch(epoch_,
                 fmt::format("pair '{}' is fault tolerant again at epoch {}: the backup "
                             "that joined runs in step, {:.0f} ms after it connected",
                             s_.pair, epoch_.load(), ms_since(s_.clock, join_started_)),
                 Joined{epoch_});
}

}  // namespace vmft::ft
