#pragma once
// A guest's vCPU in the simulation: a real Machine on Unicorn, run in a fiber in slices the
// scheduler hands out, so that it takes its turn among the simulation's other tasks. Simulated
// time passes as the guest executes, one nanosecond per instruction, and not at all while it
// idles: a slice ends when the next task is due, so an input due at a time reaches the guest at
// the instruction that time stands for, whatever the slices. The guest's clock, timer and
// entropy are the simulation's; its role is the real one (a LiveRole, say), wrapped so that it
// yields at the end of each slice and while the guest idles.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "vmft/devices/Entropy.h"
#include "vmft/devices/HostClock.h"
#include "vmft/devices/Nic.h"
#include "vmft/devices/Timer.h"
#include "vmft/ft/Clock.h"
#include "vmft/hypervisor/InputQueue.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/hypervisor/Role.h"
#include "vmft/sim/Fiber.h"
#include "vmft/sim/Parker.h"
#include "vmft/sim/Scheduler.h"

namespace vmft::sim {

class Vcpu;

/// The real role, wrapped: every call goes to it; should_stop() also parks the vCPU at the end
/// of its slice.
class SlicedRole final : public hypervisor::Role {
 public:
  SlicedRole(Vcpu& vcpu, hypervisor::Role& inner, hypervisor::InputQueue& inputs);

  devices::TimerBackend& timer() override { return inner_.timer(); }
  devices::NetBackend& net() override { return inner_.net(); }
  uint64_t clock(logchannel::ClockSource source, uint64_t icount) override;
  uint64_t entropy(uint64_t icount) override;
  void take_inputs(uint64_t icount, std::vector<hypervisor::HostInput>& out) override;
  void wait_for_input(uint64_t icount) override;
  bool should_stop(uint64_t icount) override;
  void hold(uint64_t executed, uint64_t icount) override;
  void interrupt_taken(uint64_t icount, uint32_t cause, uint64_t pc) override;
  bool output(uint64_t icount, const logchannel::Output& output) override;
  bool outputs_made(uint64_t icount) override;
  void digest(uint64_t icount, const logchannel::StateDigest& digest) override;
  void end(uint64_t icount, const logchannel::RunEnd& end,
           const logchannel::StateDigest& final) override;
  void boundary_done(uint64_t icount, uint64_t pc) override;

  /// The vCPU's slice now ends at `icount`: the machine looks at the block boundary there.
  void slice_ends_at(uint64_t icount);
  uint64_t slice_end() const { return slice_end_; }

 private:
  void at(uint64_t icount);  // the vCPU reached `icount`
  void sync();               // takes the inner role's due count and run limit

  Vcpu& vcpu_;
  hypervisor::Role& inner_;
  uint64_t slice_end_ = UINT64_MAX;
};

class Vcpu {
 public:
  /// The most a slice runs, and the least time anything one simulated process sends another
  /// takes to arrive (LogLink and IncrClients hold to it): a vCPU whose slice starts at t can
  /// run to t + kLookahead without missing an input another vCPU makes meanwhile, since every
  /// other vCPU is at t or later. 10 us: 10,000 instructions.
  static constexpr Time kLookahead = std::chrono::microseconds(10);
  static constexpr uint64_t kLookaheadInstructions = 10'000;
  /// The guest's wall clock at simulated time 0: 2026-01-01T00:00:00Z.
  static constexpr uint64_t kWallAtZeroNs = 1'767'225'600ULL * 1'000'000'000ULL;

  /// `name`: for the trace.
  Vcpu(Scheduler& scheduler, std::string name, hypervisor::InputQueue& inputs);
  ~Vcpu();

  /// At the simulation's end: a run still going is stopped and run to its end now (as the
  /// destructor would), while what it uses is still there; its parker() stays usable until
  /// this is destroyed, so what waits on it (an ArbiterLink) may go after the run and before
  /// the vCPU.
  void end_run();

  /// The guest's clock, timer and entropy, on the simulation's time and seed.
  devices::HostClock& clock() { return clock_; }
  devices::TimerBackend& timer() { return timer_; }
  devices::EntropySource& entropy() { return entropy_; }
  /// The fault-tolerance layer's clock for code that runs on this vCPU (a backup's claim at
  /// the arbiter): simulated time, and sleep_for() parks the vCPU until it has passed.
  ft::Clock& ft_clock() { return ft_clock_; }
  /// What code on this vCPU waits on (a backup's claim, for the arbiter's reply): it parks the
  /// vCPU, and its wait gives up once the machine is asked to stop or the process is dead.
  Parker& parker() { return parker_; }

  /// Builds the machine of `image` with `role` (the real one, built with clock(), timer() and
  /// entropy()), which this keeps: the machine, its role and its fiber end together, the run
  /// first. Returns the role.
  template <typename R>
  R& boot(hypervisor::GuestImage image, hypervisor::MachineConfig config, std::unique_ptr<R> role) {
    R& kept = *role;
    boot_role(std::move(image), std::move(config), std::move(role));
    return kept;
  }
  /// As boot(), with the machine restored from `snapshot` (a backup that joined): it runs on from
  /// the snapshot's instruction count.
  template <typename R>
  R& restore(hypervisor::GuestImage image, hypervisor::MachineConfig config,
             const hypervisor::MachineSnapshot& snapshot, std::unique_ptr<R> role) {
    R& kept = *role;
    boot_role(std::move(image), std::move(config), std::move(role), &snapshot);
    return kept;
  }
  /// The machine booted, for a live side's tasks on it (a join's pre-copy).
  hypervisor::Machine& machine() { return *machine_; }
  /// Starts the machine in the next slice; `done` gets how its run ended.
  void start(std::function<void(const hypervisor::RunResult&)> done);

  /// From a task: hands the guest an input (it takes it at the instruction it is at now).
  void deliver(hypervisor::HostInput input);
  /// From a task: asks the machine to stop (its run ends soon after, and `done` follows).
  void request_stop();
  /// The vCPU's fiber: parks it until poke(), for code that waits for something a task will
  /// bring (a backup waiting for its primary's log).
  void park();
  /// From a task: a vCPU parked in park() (or idling) runs again.
  void poke();
  /// The process died (kill -9): the vCPU never runs again, whatever is delivered to it. Its
  /// machine is stopped and run to its end only when this is destroyed.
  void kill();
  bool killed() const { return killed_; }
  /// The process stopped (SIGSTOP): the vCPU runs no slice until resume(), while simulated
  /// time, and the guest's clock with it, goes on; what is delivered meanwhile waits.
  void pause();
  void resume();
  bool paused() const { return paused_; }
  /// Whether its machine was asked to stop: code that parks to wait gives up.
  bool stopping() const { return inputs_.stop_requested(); }

  /// The simulated time the guest is at: in a slice, the slice's start plus the instructions
  /// run since; otherwise the scheduler's time.
  Time now() const;

 private:
  friend class SlicedRole;
  enum class State { kNotStarted, kScheduled, kRunning, kSliceEnded, kBetweenSlices, kIdle, kDone };

  class Clock final : public devices::HostClock {
   public:
    explicit Clock(Vcpu& vcpu) : vcpu_(vcpu) {}
    uint64_t wall_ns() override { return kWallAtZeroNs + mono_ns(); }
    uint64_t mono_ns() override { return static_cast<uint64_t>(vcpu_.now().count()); }

   private:
    Vcpu& vcpu_;
  };
  class Timer final : public devices::TimerBackend {
   public:
    explicit Timer(Vcpu& vcpu) : vcpu_(vcpu) {}
    void arm(uint64_t deadline_mono_ns, uint64_t generation) override;
    void disarm() override;

   private:
    Vcpu& vcpu_;
    Scheduler::TaskId task_ = 0;
  };
  class FtClock final : public ft::Clock {
   public:
    explicit FtClock(Vcpu& vcpu) : vcpu_(vcpu) {}
    TimePoint now() override {
      return TimePoint(std::chrono::duration_cast<Duration>(vcpu_.now()));
    }
    void sleep_for(Duration d) override;

   private:
    Vcpu& vcpu_;
  };
  class VcpuParker final : public Parker {
   public:
    explicit VcpuParker(Vcpu& vcpu) : vcpu_(vcpu) {}
    Time now() const override { return vcpu_.now(); }
    void park() override { vcpu_.park(); }
    void wake() override { vcpu_.poke(); }
    bool stopping() const override { return vcpu_.stopping() || vcpu_.killed_; }

   private:
    Vcpu& vcpu_;
  };
  class Entropy final : public devices::EntropySource {
   public:
    explicit Entropy(Random random) : random_(random) {}
    uint64_t next() override { return random_.next(); }

   private:
    Random random_;
  };

  void boot_role(hypervisor::GuestImage image, hypervisor::MachineConfig config,
                 std::unique_ptr<hypervisor::Role> role,
                 const hypervisor::MachineSnapshot* snapshot = nullptr);
  void reached(uint64_t icount) { icount_ = icount; }
  void end_of_slice();  // fiber: the slice is used up
  void idle();          // fiber: the guest waits for an input
  void schedule_slice(Time at);
  void run_slice();
  /// Shortens the running slice so that it ends by simulated time `t` (fiber).
  void limit_slice_to(Time t);

  Scheduler& scheduler_;
  std::string name_;
  hypervisor::InputQueue& inputs_;
  Clock clock_{*this};
  Timer timer_{*this};
  FtClock ft_clock_{*this};
  VcpuParker parker_{*this};
  Entropy entropy_;
  // Destroyed in this order after the destructor ends the run: fiber, machine, roles.
  std::unique_ptr<hypervisor::Role> inner_;
  std::unique_ptr<SlicedRole> role_;
  std::unique_ptr<hypervisor::Machine> machine_;
  std::unique_ptr<Fiber> fiber_;
  hypervisor::RunResult result_;
  std::function<void(const hypervisor::RunResult&)> done_;
  State state_ = State::kNotStarted;
  uint64_t icount_ = 0;
  Time slice_start_{0};
  uint64_t slice_start_icount_ = 0;
  Time idle_since_{0};
  bool killed_ = false;
  bool paused_ = false;
  bool slice_held_ = false;  // a slice came due while paused
};

/// A NIC back end with nothing behind it: a guest that serves no one, for a vCPU on its own.
class NoNetwork final : public devices::NetBackend {
 public:
  bool has_udp() const override { return false; }
  bool has_tcp() const override { return false; }
  std::optional<devices::FrameConfig> frames() const override { return std::nullopt; }
  void send_frame(std::vector<uint8_t>) override {}
  void send_udp(uint32_t, uint32_t, std::vector<uint8_t>) override {}
  void send_tcp(uint32_t, std::vector<uint8_t>) override {}
  void close_tcp(uint32_t) override {}
  void delivered(const devices::NetEvent&) override {}
};

}  // namespace vmft::sim
