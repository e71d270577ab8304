#include "vmft/sim/Vcpu.h"

#include <algorithm>

namespace vmft::sim {

using hypervisor::HostInput;

SlicedRole::SlicedRole(Vcpu& vcpu, hypervisor::Role& inner, hypervisor::InputQueue& inputs)
    : Role(inputs), vcpu_(vcpu), inner_(inner) {
  sync();
}

void SlicedRole::at(uint64_t icount) { vcpu_.reached(icount); }

void SlicedRole::sync() {
  due_icount_ = std::min(inner_.due_icount(), slice_end_);
  run_limit_ = inner_.run_limit();
}

void SlicedRole::slice_ends_at(uint64_t icount) {
  slice_end_ = icount;
  sync();
}

uint64_t SlicedRole::clock(logchannel::ClockSource source, uint64_t icount) {
  at(icount);
  return inner_.clock(source, icount);
}

uint64_t SlicedRole::entropy(uint64_t icount) {
  at(icount);
  return inner_.entropy(icount);
}

void SlicedRole::take_inputs(uint64_t icount, std::vector<HostInput>& out) {
  at(icount);
  inner_.take_inputs(icount, out);
  sync();
}

void SlicedRole::wait_for_input(uint64_t icount) {
  at(icount);
  inner_.wait_for_input(icount);  // its InputQueue::wait() parks the vCPU (Vcpu::idle)
  sync();
}

bool SlicedRole::should_stop(uint64_t icount) {
  at(icount);
  if (icount >= slice_end_) vcpu_.end_of_slice();
  sync();
  return inner_.should_stop(icount);
}

void SlicedRole::hold(uint64_t executed, uint64_t icount) {
  inner_.hold(executed, icount);
  sync();
}

void SlicedRole::interrupt_taken(uint64_t icount, uint32_t cause, uint64_t pc) {
  at(icount);
  inner_.interrupt_taken(icount, cause, pc);
  sync();
}

bool SlicedRole::output(uint64_t icount, const logchannel::Output& output) {
  at(icount);
  const bool ok = inner_.output(icount, output);
  sync();
  return ok;
}

bool SlicedRole::outputs_made(uint64_t icount) {
  at(icount);
  const bool ok = inner_.outputs_made(icount);
  sync();
  return ok;
}

void SlicedRole::digest(uint64_t icount, const logchannel::StateDigest& digest) {
  at(icount);
  inner_.digest(icount, digest);
  sync();
}

void SlicedRole::end(uint64_t icount, const logchannel::RunEnd& end,
                     const logchannel::StateDigest& final) {
  at(icount);
  inner_.end(icount, end, final);
}

void SlicedRole::boundary_done(uint64_t icount, uint64_t pc) {
  at(icount);
  inner_.boundary_done(icount, pc);
  sync();
}

void Vcpu::Timer::arm(uint64_t deadline_mono_ns, uint64_t generation) {
  disarm();
  const Time due(deadline_mono_ns);
  Vcpu& vcpu = vcpu_;
  task_ = vcpu.scheduler_.at(due, vcpu.name_ + ": timer " + std::to_string(generation) + " fires",
                             [this, &vcpu, generation] {
                               task_ = 0;
                               vcpu.deliver(hypervisor::TimerExpired{generation});
                             });
  vcpu.limit_slice_to(due);
}

void Vcpu::Timer::disarm() {
  if (task_ != 0) vcpu_.scheduler_.cancel(task_);
  task_ = 0;
}

void Vcpu::FtClock::sleep_for(Duration d) {
  Vcpu& vcpu = vcpu_;
  const Time until = vcpu.now() + std::chrono::duration_cast<Time>(d);
  vcpu.scheduler_.at(until, vcpu.name_ + ": wakes from a sleep", [&vcpu] { vcpu.poke(); });
  while (vcpu.scheduler_.now() < until && !vcpu.stopping() && !vcpu.killed_) vcpu.park();
}

Vcpu::Vcpu(Scheduler& scheduler, std::string name, hypervisor::InputQueue& inputs)
    : scheduler_(scheduler),
      name_(std::move(name)),
      inputs_(inputs),
      entropy_(scheduler.random().fork()) {}

Vcpu::~Vcpu() { end_run(); }

void Vcpu::end_run() {
  // A run still going (the simulation ended first, or the process was killed) is stopped and
  // run to its end here, before its machine and roles go.
  if (fiber_ && !fiber_->done()) {
    killed_ = true;  // what it does now reaches nobody
    inputs_.request_stop();
    while (fiber_->resume()) {
    }
  }
}

void Vcpu::boot_role(hypervisor::GuestImage image, hypervisor::MachineConfig config,
                     std::unique_ptr<hypervisor::Role> role,
                     const hypervisor::MachineSnapshot* snapshot) {
  inner_ = std::move(role);
  role_ = std::make_unique<SlicedRole>(*this, *inner_, inputs_);
  if (snapshot) {
    icount_ = snapshot->icount;
    machine_ = std::make_unique<hypervisor::Machine>(std::move(image), std::move(config), *role_,
                                                     *snapshot);
  } else {
    machine_ = std::make_unique<hypervisor::Machine>(std::move(image), std::move(config), *role_);
  }
}

void Vcpu::start(std::function<void(const hypervisor::RunResult&)> done) {
  done_ = std::move(done);
  fiber_ = std::make_unique<Fiber>([this](Fiber&) {
    inputs_.set_idler([this] { idle(); });
    result_ = machine_->run();
  });
  schedule_slice(scheduler_.now());
}

Time Vcpu::now() const {
  if (state_ != State::kRunning && state_ != State::kSliceEnded) return scheduler_.now();
  return slice_start_ + Time(icount_ - slice_start_icount_);
}

void Vcpu::schedule_slice(Time at) {
  if (killed_ || state_ == State::kScheduled || state_ == State::kDone) return;
  state_ = State::kScheduled;
  scheduler_.at(
      at, name_ + ": vCPU runs", [this] { run_slice(); }, Scheduler::Kind::kSlice);
}

void Vcpu::run_slice() {
  if (killed_) return;
  if (paused_) {
    slice_held_ = true;  // still kScheduled: nothing schedules another until resume()
    return;
  }
  slice_start_ = scheduler_.now();
  slice_start_icount_ = icount_;
  // Another vCPU's slice does not cut this one: whatever it sends during its own slice
  // arrives at least kLookahead after it, and it is no earlier in simulated time than this one.
  uint64_t length = kLookaheadInstructions;
  if (const auto next = scheduler_.next_due(Scheduler::Kind::kSlice)) {
    const auto until = static_cast<uint64_t>(std::max<int64_t>((*next - slice_start_).count(), 1));
    length = std::min(length, until);
  }
  role_->slice_ends_at(icount_ + length);
  state_ = State::kRunning;
  if (!fiber_->resume()) {
    state_ = State::kDone;
    scheduler_.note(name_ + ": run ended at instruction " + std::to_string(result_.instructions));
    if (done_) done_(result_);
    return;
  }
  if (state_ == State::kSliceEnded) {
    const Time reached = now();
    state_ = State::kBetweenSlices;
    schedule_slice(reached);
  }
  // kIdle: deliver() or request_stop() schedules the next slice.
}

void Vcpu::end_of_slice() {
  state_ = State::kSliceEnded;
  fiber_->yield();
}

void Vcpu::idle() {
  idle_since_ = slice_start_ + Time(icount_ - slice_start_icount_);
  state_ = State::kIdle;
  fiber_->yield();
}

void Vcpu::park() { idle(); }

void Vcpu::poke() {
  if (state_ == State::kIdle) schedule_slice(std::max(scheduler_.now(), idle_since_));
}

void Vcpu::kill() {
  killed_ = true;
  timer_.disarm();
  scheduler_.note(name_ + ": killed");
}

void Vcpu::pause() {
  paused_ = true;
  scheduler_.note(name_ + ": paused");
}

void Vcpu::resume() {
  paused_ = false;
  scheduler_.note(name_ + ": resumed");
  if (!slice_held_) return;
  slice_held_ = false;
  state_ = State::kBetweenSlices;
  schedule_slice(scheduler_.now());
}

void Vcpu::limit_slice_to(Time t) {
  if (state_ != State::kRunning) return;
  const Time at = now();
  const uint64_t left = t > at ? static_cast<uint64_t>((t - at).count()) : 0;
  const uint64_t end = icount_ + std::max<uint64_t>(left, 1);
  if (end < role_->slice_end()) role_->slice_ends_at(end);  // only ever sooner
}

void Vcpu::deliver(HostInput input) {
  if (killed_) return;
  inputs_.push(std::move(input));
  poke();
}

void Vcpu::request_stop() {
  inputs_.request_stop();
  poke();
}

}  // namespace vmft::sim
