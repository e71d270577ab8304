#include "Redundancy.h"

#include <algorithm>
#include <future>

#include "vmft/hypervisor/Snapshot.h"

namespace vmft::cli {

namespace {

using Clock = std::chrono::steady_clock;
using hypervisor::kSnapshotPageBytes;

// RAM is copied for a joining backup this much per pause of the guest while it runs.
constexpr size_t kPreCopyChunk = 4u << 20;
// A join that takes longer says how far it got this often.
constexpr auto kJoinProgressInterval = std::chrono::seconds(1);

double ms_since(Clock::time_point t) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t).count();
}

// ram_page_hashes of `ram`, half of it on a second thread: the guest waits for this.
std::vector<uint64_t> page_hashes_in_parallel(std::span<const uint8_t> ram) {
  const size_t pages = (ram.size() + kSnapshotPageBytes - 1) / kSnapshotPageBytes;
  const size_t split = pages / 2 * kSnapshotPageBytes;
  std::vector<uint64_t> second;
  std::thread helper([&] { second = hypervisor::ram_page_hashes(ram.subspan(split)); });
  std::vector<uint64_t> hashes = hypervisor::ram_page_hashes(ram.first(split));
  helper.join();
  hashes.insert(hashes.end(), second.begin(), second.end());
  return hashes;
}

bool all_zero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

Redundancy::Redundancy(Setup setup) : s_(std::move(setup)) {
  s_.channel.on_peer_lost([this](const std::string& why) { lost(why); });
  s_.channel.on_join([this](uint64_t session) {
    state_ = State::kJoining;
    join_in_sync_ = false;
    join_started_ = Clock::now();
    emit("join_started");
    post([this, session] { take_joiner(session); });
  });
  s_.channel.on_in_sync([this] {
    join_in_sync_ = true;
    post([this] { register_joined(); });
  });
  s_.channel.on_epoch_acked([this](uint64_t epoch) { epoch_acked(epoch); });
  worker_ = std::thread([this] { work(); });
}

Redundancy::~Redundancy() { stop(); }

void Redundancy::set_machine(hypervisor::Machine& machine, std::function<uint64_t()> last_seq) {
  machine_ = &machine;
  last_seq_ = std::move(last_seq);
}

void Redundancy::paired(uint64_t epoch) {
  epoch_ = epoch;
  state_ = State::kPaired;
}

void Redundancy::alone(uint64_t epoch) {
  epoch_ = epoch;
  go_on_alone();
}

void Redundancy::announce_epoch(uint64_t epoch, std::string announcement, const char* event) {
  {
    std::lock_guard lock(announcing_mutex_);
    announcing_ = Announcing{epoch, std::move(announcement), event};
  }
  s_.channel.send_epoch(epoch);
}

// io thread.
void Redundancy::epoch_acked(uint64_t epoch) {
  std::lock_guard lock(announcing_mutex_);
  if (!announcing_ || announcing_->epoch != epoch) return;
  spdlog::info("{}", announcing_->text);
  emit(announcing_->event, {{"epoch", epoch}});
  announcing_.reset();
}

void Redundancy::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (worker_.joinable()) worker_.join();
}

void Redundancy::post(std::function<void()> task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    tasks_.push_back(std::move(task));
  }
  cv_.notify_all();
}

void Redundancy::work() {
  for (;;) {
    std::function<void()> task;
    {
      std::unique_lock lock(mutex_);
      cv_.wait(lock, [this] { return stopping_ || !tasks_.empty(); });
      if (stopping_) return;
      task = std::move(tasks_.front());
      tasks_.pop_front();
    }
    task();
  }
}

// Callers say so only after it: whoever reads that this side goes on alone may send it a
// joiner at once, which must not be refused.
void Redundancy::go_on_alone() {
  state_ = State::kAlone;
  s_.gate.open();
  s_.channel.accept(channel::ChannelPrimary::Accepting::kJoiners);
}

// io thread. A backup still joining, that the arbiter never heard of, can just be forgotten;
// one the pair is (or is being) registered with is a peer the arbiter decides between.
void Redundancy::lost(const std::string& why) {
  // No other backup until what comes next is decided: on the io thread, before the channel
  // can take one.
  s_.channel.accept(channel::ChannelPrimary::Accepting::kNothing);
  const State state = state_;
  if (state == State::kJoining && !join_in_sync_) {
    go_on_alone();
    spdlog::warn("{}; it was joining pair '{}': this {} goes on alone", why, s_.pair, s_.side);
    emit("alone", {{"epoch", epoch_.load()}, {"reason", "the joining backup is gone"}});
    return;
  }
  if (state != State::kPaired && state != State::kJoining) return;
  if (s_.channel.backup_left()) {
    // It will not claim the pair: without an arbiter this side just goes on; with one, it
    // wins the epoch there, so that a backup that joins later registers a new one.
    if (!s_.arbiter) {
      go_on_alone();
      spdlog::info("{}; this {} of pair '{}' goes on alone", why, s_.side, s_.pair);
      emit("alone", {{"epoch", epoch_.load()}, {"reason", "the backup left"}});
      return;
    }
    spdlog::info("{}; telling the arbiter at {} that this {} goes on alone", why,
                 s_.arbiter_address, s_.side);
    state_ = State::kDeciding;
    post([this] { decide(); });
    return;
  }
  if (!s_.arbiter) {
    spdlog::error("{}; with no arbiter to decide, this {} stops rather than go on alone", why,
                  s_.side);
    state_ = State::kBroken;
    emit("broken", {{"reason", why}});
    s_.inputs.request_stop();
    return;
  }
  spdlog::warn("{}; asking the arbiter at {} whether this {} goes on alone", why,
               s_.arbiter_address, s_.side);
  state_ = State::kDeciding;
  post([this] { decide(); });
}

void Redundancy::decide() {
  const auto result = ask_arbiter(s_.arbiter_address, s_.inputs,
                                  [&] { return s_.arbiter->test_and_set(s_.pair, epoch_, s_.me); });
  if (!result) return;  // stopped
  if (result->won) {
    const bool left = s_.channel.backup_left();
    go_on_alone();
    spdlog::warn("the arbiter gave pair '{}' to this {} at epoch {}: going on alone", s_.pair,
                 s_.side, epoch_.load());
    emit("alone",
         {{"epoch", epoch_.load()}, {"reason", left ? "the backup left" : "the backup was lost"}});
    return;
  }
  spdlog::error(
      "the arbiter gave pair '{}' to the other side ({}): this {} halts and sends nothing more",
      s_.pair, arbiter::describe(result->state), s_.side);
  state_ = State::kLost;
  emit("lost", {{"epoch", epoch_.load()}, {"holder", result->state.holder}});
  s_.inputs.request_stop();
}

void Redundancy::emit(const char* event, nlohmann::json fields) {
  if (s_.events) s_.events->emit(event, std::move(fields));
}

bool Redundancy::on_vcpu(const std::function<void(hypervisor::Machine&)>& task) {
  auto done = std::make_shared<std::promise<bool>>();
  auto result = done->get_future();
  machine_->at_next_boundary([task, done](hypervisor::Machine& machine) {
    try {
      task(machine);
      done->set_value(true);
    } catch (const std::exception& e) {
      spdlog::error("a backup cannot join: {}", e.what());
      done->set_value(false);
    }
  });
  while (result.wait_for(std::chrono::milliseconds(20)) != std::future_status::ready) {
    std::lock_guard lock(mutex_);
    if (stopping_) return false;
  }
  return result.get();
}

// Copies RAM to the joiner a chunk per pause while the guest runs, then pauses it once to send
// the pages that changed since and the snapshot. If the joiner goes meanwhile, the channel
// refuses what follows and lost() has put this side back to running alone.
void Redundancy::take_joiner(uint64_t session) {
  const auto started = Clock::now();
  std::vector<uint64_t> sent;  // the hash of every page as sent
  std::vector<uint8_t> copy;
  uint64_t sent_bytes = 0;
  uint64_t ram_bytes = 0;
  auto last_report = started;
  for (uint64_t offset = 0;; offset += kPreCopyChunk) {
    if (Clock::now() - last_report >= kJoinProgressInterval) {
      last_report = Clock::now();
      const double seconds = std::chrono::duration<double>(last_report - started).count();
      spdlog::info(
          "a backup joins pair '{}': {:.1f} of {:.1f} MiB of RAM copied, {:.1f} MiB of it sent "
          "({:.1f} MiB/s), {} pages left to copy before the pause",
          s_.pair, offset / 1048576.0, ram_bytes / 1048576.0, sent_bytes / 1048576.0,
          sent_bytes / 1048576.0 / seconds, (ram_bytes - offset) / kSnapshotPageBytes);
    }
    bool more = false;
    const bool ok = on_vcpu([&](hypervisor::Machine& machine) {
      const auto ram = machine.ram();
      ram_bytes = ram.size();
      if (offset >= ram.size()) return;
      const auto chunk = ram.subspan(offset, std::min<size_t>(kPreCopyChunk, ram.size() - offset));
      copy.assign(chunk.begin(), chunk.end());
      more = true;
    });
    if (!ok) return;
    if (!more) break;
    const auto hashes = hypervisor::ram_page_hashes(copy);
    sent.insert(sent.end(), hashes.begin(), hashes.end());
    // The joiner's RAM starts zeroed: only runs of pages with something in them travel.
    const auto page = [&](size_t p) {
      return std::span<const uint8_t>(copy).subspan(
          p * kSnapshotPageBytes,
          std::min<size_t>(kSnapshotPageBytes, copy.size() - p * kSnapshotPageBytes));
    };
    for (size_t p = 0; p < hashes.size();) {
      if (all_zero(page(p))) {
        ++p;
        continue;
      }
      size_t q = p;
      while (q < hashes.size() && !all_zero(page(q))) ++q;
      const size_t begin = p * kSnapshotPageBytes;
      const size_t end = std::min<size_t>(q * kSnapshotPageBytes, copy.size());
      if (!s_.channel.send_ram(session, offset + begin,
                               std::span<const uint8_t>(copy).subspan(begin, end - begin))) {
        return;
      }
      sent_bytes += end - begin;
      p = q;
    }
  }
  const double precopy_ms = ms_since(started);

  double pause_ms = 0;
  size_t changed = 0;
  uint64_t icount = 0;
  bool streaming = false;
  const bool ok = on_vcpu([&](hypervisor::Machine& machine) {
    const auto paused = Clock::now();
    const auto ram = machine.ram();
    const auto now = page_hashes_in_parallel(ram);
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> runs;
    for (size_t p = 0; p < now.size();) {
      if (p < sent.size() && now[p] == sent[p]) {
        ++p;
        continue;
      }
      size_t q = p;
      while (q < now.size() && (q >= sent.size() || now[q] != sent[q])) ++q;
      const size_t begin = p * kSnapshotPageBytes;
      const size_t end = std::min<size_t>(q * kSnapshotPageBytes, ram.size());
      runs.emplace_back(begin, std::vector<uint8_t>(ram.begin() + begin, ram.begin() + end));
      changed += q - p;
      p = q;
    }
    const hypervisor::MachineSnapshot snapshot = machine.snapshot(hypervisor::RamCopy::kNone);
    icount = snapshot.icount;
    const uint64_t seq = last_seq_();
    // From here on every output waits for the joiner, as in a pair.
    s_.gate.hold_again(seq);
    streaming = s_.channel.start_stream(session, seq, snapshot.icount, runs,
                                        hypervisor::encode_snapshot(snapshot));
    if (!streaming) s_.gate.open();
    pause_ms = ms_since(paused);
  });
  if (!ok || !streaming) return;
  spdlog::info(
      "a backup joins pair '{}': {:.1f} MiB of RAM sent in {:.0f} ms while the guest ran, then "
      "the guest paused {:.1f} ms to send {} changed pages and its state at instruction {}",
      s_.pair, sent_bytes / 1048576.0, precopy_ms, pause_ms, changed, icount);
}

// The joined backup runs from the snapshot on: a new epoch makes the pair whole again.
void Redundancy::register_joined() {
  const auto registered = ask_arbiter(s_.arbiter_address, s_.inputs, [&] {
    return s_.arbiter->register_epoch(s_.pair, epoch_, s_.me);
  });
  if (!registered) return;  // stopped
  if (!registered->ok) {
    spdlog::error(
        "the arbiter will not register pair '{}' for this {} now that a backup joined: it is at "
        "{}. This {} halts",
        s_.pair, s_.side, arbiter::describe(registered->state), s_.side);
    state_ = State::kLost;
    emit("lost", {{"epoch", registered->state.epoch}, {"holder", registered->state.holder}});
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
                             s_.pair, epoch_.load(), ms_since(join_started_)),
                 "joined");
}

bool release_at_arbiter(arbiter::Arbiter& arbiter, const std::string& address,
                        const std::string& pair, uint64_t epoch, const std::string& me) {
  const auto deadline = Clock::now() + kReleaseDeadline;
  for (;;) {
    try {
      const auto result = arbiter.release(pair, epoch, me);
      if (result.ok) {
        spdlog::info(
            "released pair '{}' at the arbiter (epoch {}): the same commands start it "
            "again",
            pair, epoch);
      } else {
        spdlog::warn("the arbiter did not release pair '{}' at epoch {} for this side: it is at {}",
                     pair, epoch, arbiter::describe(result.state));
      }
      return result.ok;
    } catch (const arbiter::ArbiterUnavailable& e) {
      if (Clock::now() >= deadline) {
        spdlog::warn(
            "could not release pair '{}' at the arbiter at {} ({}): once neither side runs, "
            "`vmft arbiter release {} --arbiter {}` does",
            pair, address, e.what(), pair, address);
        return false;
      }
    }
    std::this_thread::sleep_for(kArbiterRetry);
  }
}

}  // namespace vmft::cli
