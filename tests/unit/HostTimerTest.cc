// The vCPU thread against real host-side timing: the asio timer, and idling without CPU.
#include <gtest/gtest.h>
#include <pthread.h>

#include <asio.hpp>
#include <chrono>
#include <future>
#include <thread>

#include "Fakes.h"
#include "vmft/devices/AsioTimer.h"

namespace vmft::testing {
namespace {

using Outcome = hypervisor::RunResult::Outcome;

struct TimedRun {
  hypervisor::RunResult result;
  std::string console;
};

// Runs a guest to its end on the real clock and the asio timer.
TimedRun run_on_the_real_timer(const std::string& guest) {
  asio::io_context io;
  auto work = asio::make_work_guard(io);
  std::thread io_thread([&] { io.run(); });
  hypervisor::InputQueue inputs;
  devices::SystemClock clock;
  FixedEntropy entropy(0);
  RecordingNet net;
  devices::AsioTimer timer(io, clock,
                           [&](uint64_t g) { inputs.push(hypervisor::TimerExpired{g}); });
  TimedRun run;
  hypervisor::LiveRole role({clock, entropy, timer, net}, inputs, nullptr);
  hypervisor::Machine vm(
      test_guest(guest),
      {16ULL << 20, [&](std::span<const uint8_t> b) { run.console.append(b.begin(), b.end()); }},
      role);
  run.result = vm.run();
  io.stop();
  io_thread.join();
  return run;
}

TEST(HostTimer, GuestSeesEveryTickOfTheRealTimer) {
  const auto run = run_on_the_real_timer("timer");
  ASSERT_EQ(run.result.outcome, Outcome::kExited) << run.result.report;
  EXPECT_EQ(run.result.exit_code, 0);
  EXPECT_EQ(run.console, "tick\ntick\ntick\n");
}

// vmft_sleep_until, vmft_sleep_ns and vmft_wait_until against the guest's own ticks; the guest
// checks each case (tests/guests/sleep.c) and exits with the number that failed.
TEST(HostTimer, SdkSleepsShareTheTimerWithTheGuestsOwnTicks) {
  const auto run = run_on_the_real_timer("sleep");
  ASSERT_EQ(run.result.outcome, Outcome::kExited) << run.result.report;
  EXPECT_EQ(run.result.exit_code, 0) << run.console;
  EXPECT_EQ(run.console,
            "sleep_until ok\n"
            "own tick during sleep ok\n"
            "own tick kept ok\n"
            "own tick fired ok\n"
            "wait_until times out ok\n"
            "wait_until wakes for a tick ok\n"
            "interrupts off: tick waits ok\n"
            "interrupts off: no spinning ok\n"
            "interrupts off: tick taken after ok\n");
}

double thread_cpu_seconds(pthread_t thread) {
  clockid_t id;
  EXPECT_EQ(pthread_getcpuclockid(thread, &id), 0);
  timespec ts{};
  clock_gettime(id, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

TEST(Idle, IdleGuestUsesNoHostCpu) {
  hypervisor::InputQueue inputs;
  SteppingClock clock;
  FixedEntropy entropy(0);
  ImmediateTimer timer(inputs, 0);
  RecordingNet net;
  std::promise<void> ready;
  bool ready_sent = false;
  std::string console;
  hypervisor::LiveRole role({clock, entropy, timer, net}, inputs, nullptr);
  hypervisor::Machine vm(test_guest("echo"),
                         {16ULL << 20,
                          [&](std::span<const uint8_t> b) {
                            console.append(b.begin(), b.end());
                            if (!ready_sent && console.find('\n') != std::string::npos) {
                              ready_sent = true;
                              ready.set_value();
                            }
                          }},
                         role);
  std::thread vcpu([&] { vm.run(); });
  ready.get_future().wait();  // echo prints its ready line, then idles

  // Measure the vCPU thread's CPU time over a stretch of idle wall time.
  const double before = thread_cpu_seconds(vcpu.native_handle());
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const double used = thread_cpu_seconds(vcpu.native_handle()) - before;
  inputs.request_stop();
  vcpu.join();
  EXPECT_LT(used, 0.01) << "an idle guest kept the vCPU thread busy";
}

}  // namespace
}  // namespace vmft::testing
