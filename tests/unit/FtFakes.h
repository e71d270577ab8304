#pragma once
// Fakes for the ft library's collaborators: the channel's ends, the arbiter, the clock, the
// event sink and a backup's host going live, so that a live side, a side's stop and a backup's
// going live run in a test without a process or a network.

#include <chrono>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "vmft/arbiter/Arbiter.h"
#include "vmft/ft/BackupEnd.h"
#include "vmft/ft/Clock.h"
#include "vmft/ft/Events.h"
#include "vmft/ft/GoLive.h"
#include "vmft/ft/PrimaryEnd.h"
#include "vmft/hypervisor/Role.h"

namespace vmft::testing {

/// What fakes were asked to do, in order, across fakes (any thread).
class Steps {
 public:
  void add(std::string step) {
    std::lock_guard lock(mutex_);
    steps_.push_back(std::move(step));
  }
  std::vector<std::string> all() {
    std::lock_guard lock(mutex_);
    return steps_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> steps_;
};

/// Polls `done` until it holds or a few seconds pass (the live side decides on its own thread).
inline bool eventually(const std::function<bool()>& done) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

/// The primary's end with no backup behind it: the test says what the backup does through
/// the listener, and reads what the live side sent.
class FakePrimaryEnd final : public ft::PrimaryEnd {
 public:
  void listen(Listener listener) override { listener_ = std::move(listener); }
  void accept_joiners() override {
    std::lock_guard lock(mutex_);
    ++accepting_joiners_;
    accepting_ = true;
  }
  void accept_nothing() override {
    std::lock_guard lock(mutex_);
    accepting_ = false;
  }
  bool backup_left() const override { return backup_left_; }
  bool lost() const override { return lost_; }
  void wait_acknowledged(std::chrono::milliseconds) override { step("wait for the backup's ack"); }
  void shutdown() override { step("close the channel to the backup"); }
  void send_epoch(uint64_t epoch) override {
    std::lock_guard lock(mutex_);
    sent_epochs_.push_back(epoch);
  }
  bool send_ram(uint64_t, uint64_t, std::span<const uint8_t>) override { return false; }
  bool start_stream(uint64_t, uint64_t, uint64_t,
                    const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>&,
                    std::span<const uint8_t>) override {
    return false;
  }

  // What the backup does, as the io thread would tell it.
  void backup_lost(const std::string& why, bool left) {
    backup_left_ = left;
    lost_ = true;
    listener_.peer_lost(why);
  }
  void backup_joins(uint64_t session) { listener_.join(session); }
  void joiner_in_sync() { listener_.in_sync(); }
  void backup_has_epoch(uint64_t epoch) { listener_.epoch_acked(epoch); }

  int accepting_joiners() {
    std::lock_guard lock(mutex_);
    return accepting_joiners_;
  }
  /// Whether a joiner would be taken now.
  bool accepting() {
    std::lock_guard lock(mutex_);
    return accepting_;
  }
  std::vector<uint64_t> sent_epochs() {
    std::lock_guard lock(mutex_);
    return sent_epochs_;
  }

  Steps* steps = nullptr;  ///< where waits and shutdowns are noted, if anywhere

 private:
  void step(std::string what) {
    if (steps) steps->add(std::move(what));
  }

  Listener listener_;
  std::atomic<bool> backup_left_{false};
  std::atomic<bool> lost_{false};
  std::mutex mutex_;
  int accepting_joiners_ = 0;
  bool accepting_ = false;
  std::vector<uint64_t> sent_epochs_;
};

/// A backup's end of the channel that notes what it was asked in `steps`.
class FakeBackupEnd final : public ft::BackupEnd {
 public:
  explicit FakeBackupEnd(Steps& steps) : steps_(steps) {}
  void wait_goodbye(std::chrono::milliseconds) override { steps_.add("wait for the goodbye"); }
  void shutdown() override { steps_.add("close the channel to the primary"); }

 private:
  Steps& steps_;
};

/// A backup's host that notes each step of going live in `steps`, and whose network binds
/// unless told it is stopped first.
class FakeLiveHost final : public ft::LiveHost {
 public:
  explicit FakeLiveHost(Steps& steps, hypervisor::Role& live_role)
      : steps_(steps), live_role_(live_role) {}

  void start_clocks(const ft::ContinuedTime& time) override {
    clocks = time;
    steps_.add("start clocks");
  }
  bool bind_network(uint32_t first_connection) override {
    first_conn = first_connection;
    steps_.add("bind network");
    return !stopped_while_binding;
  }
  std::optional<size_t> take_over_frames(const std::deque<std::vector<uint8_t>>&) override {
    steps_.add("take over frames");
    return frames_heard;
  }
  void write_console(std::span<const uint8_t> bytes) override {
    console.emplace_back(bytes.begin(), bytes.end());
    steps_.add("write console");
  }
  hypervisor::Role& start_live_role(uint64_t epoch) override {
    steps_.add("start live role at epoch " + std::to_string(epoch));
    return live_role_;
  }
  void start_network() override { steps_.add("start network"); }
  void now_live(uint64_t epoch) override { steps_.add("live at epoch " + std::to_string(epoch)); }
  void run_on_live(uint64_t epoch) override {
    steps_.add("run on-live at epoch " + std::to_string(epoch));
  }

  bool stopped_while_binding = false;
  std::optional<size_t> frames_heard;  ///< set: a frame NIC
  std::optional<ft::ContinuedTime> clocks;
  uint32_t first_conn = 0;
  std::vector<std::vector<uint8_t>> console;

 private:
  Steps& steps_;
  hypervisor::Role& live_role_;
};

/// An arbiter whose answers the test sets; it may fail to answer the first `unavailable`
/// questions. Counts what it was asked.
class FakeArbiter final : public arbiter::Arbiter {
 public:
  arbiter::ArbiterState read(const std::string&) override {
    std::lock_guard lock(mutex_);
    answer_or_throw();
    return state;
  }
  arbiter::RegisterResult register_epoch(const std::string&, uint64_t expected_epoch,
                                         const std::string& id) override {
    std::lock_guard lock(mutex_);
    ++registers;
    answer_or_throw();
    if (!register_ok) return {false, state};
    state = {expected_epoch + 1, arbiter::Mode::kPaired, id};
    return {true, state};
  }
  arbiter::TasResult test_and_set(const std::string&, uint64_t epoch,
                                  const std::string& id) override {
    std::lock_guard lock(mutex_);
    ++test_and_sets;
    tas_epochs.push_back(epoch);
    answer_or_throw();
    if (!tas_wins) return {false, state};
    state = {epoch, arbiter::Mode::kAlone, id};
    return {true, state};
  }
  arbiter::ReleaseResult release(const std::string&, uint64_t epoch, const std::string&) override {
    std::lock_guard lock(mutex_);
    ++releases;
    answer_or_throw();
    state = {epoch, arbiter::Mode::kReleased, ""};
    return {true, state};
  }
  PairList list(size_t) override { return {}; }

  int asked() {
    std::lock_guard lock(mutex_);
    return registers + test_and_sets + releases;
  }

  // Set before the live side asks; read once it answered.
  int unavailable = 0;  ///< the next this many questions throw ArbiterUnavailable
  bool tas_wins = true;
  bool register_ok = true;
  arbiter::ArbiterState state;
  int registers = 0;
  int test_and_sets = 0;
  int releases = 0;
  std::vector<uint64_t> tas_epochs;

 private:
  void answer_or_throw() {
    if (unavailable > 0) {
      --unavailable;
      throw arbiter::ArbiterUnavailable("connection refused");
    }
  }
  std::mutex mutex_;
};

/// Time that passes only when slept: a retry loop runs at once and says how long it waited.
class FakeClock final : public ft::Clock {
 public:
  TimePoint now() override {
    std::lock_guard lock(mutex_);
    return now_;
  }
  void sleep_for(Duration d) override {
    std::lock_guard lock(mutex_);
    now_ += d;
    slept_ += d;
  }
  Duration slept() {
    std::lock_guard lock(mutex_);
    return slept_;
  }

 private:
  std::mutex mutex_;
  TimePoint now_{};
  Duration slept_{};
};

/// Keeps every event emitted.
class RecordingEvents final : public ft::EventSink {
 public:
  void emit(const ft::Event& event) override {
    std::lock_guard lock(mutex_);
    events_.push_back(event);
  }
  std::vector<ft::Event> events() {
    std::lock_guard lock(mutex_);
    return events_;
  }
  std::vector<ft::EventKind> kinds() {
    std::vector<ft::EventKind> kinds;
    for (const auto& e : events()) kinds.push_back(ft::kind_of(e));
    return kinds;
  }

 private:
  std::mutex mutex_;
  std::vector<ft::Event> events_;
};

}  // namespace vmft::testing
