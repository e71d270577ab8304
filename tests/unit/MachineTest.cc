// The vCPU: instruction counting, CSR emulation, interrupts and faults, on test guests run
// in-process against fake host services.
#include <gtest/gtest.h>

#include <cstring>
#include <thread>

#include "Fakes.h"

namespace vmft::testing {
namespace {

using Outcome = hypervisor::RunResult::Outcome;

TEST(Machine, CountsEveryInstructionExactly) {
  TestVm vm("count");
  const auto result = vm.run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_EQ(result.instructions, 2004u);  // counted by hand in count.S
}

TEST(Machine, RdinstretReadsInstructionsRetiredBeforeIt) {
  TestVm vm("count");
  const auto result = vm.run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_EQ(result.exit_code, 2001);
}

TEST(Machine, CountersAndClocksComeFromTheHostClock) {
  TestVm vm("counters", /*entropy=*/0xfeedfacecafebeefULL);
  const auto result = vm.run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  // The stepping clock adds 1000 ns per read; time, cycle and mcycle each read it once.
  EXPECT_EQ(vm.console,
            "instret_delta=1\n"
            "time1=1000\n"
            "time2=2000\n"
            "cycle1=3000\n"
            "mcycle=4000\n"
            "wall=" +
                std::to_string(0x1122334455667000ULL + 1000) +
                "\n"
                "mono=5000\n"
                "entropy=" +
                std::to_string(0xfeedfacecafebeefULL) + "\n");
}

struct IrqRun {
  uint64_t instructions;
  int taken;
};

IrqRun run_irq_count(uint64_t mode, int fires) {
  TestVm vm("irq_count", mode, fires);
  const auto result = vm.run();
  EXPECT_EQ(result.outcome, Outcome::kExited) << result.report;
  return {result.instructions, result.exit_code};
}

TEST(Machine, TakesTimerInterruptsWhenEnabledAndResumesAfterMret) {
  const IrqRun quiet = run_irq_count(3, 0);
  const IrqRun busy = run_irq_count(3, 25);
  EXPECT_EQ(quiet.taken, 0);
  EXPECT_EQ(busy.taken, 25);
  // Each interrupt adds exactly the handler's 6 instructions: the interrupted block ran
  // once, in full, after mret, and the count stayed exact across every trap.
  EXPECT_EQ(busy.instructions, quiet.instructions + 6 * 25);
}

TEST(Machine, NoInterruptWhileMstatusMieIsClear) {
  EXPECT_EQ(run_irq_count(/*mie.MTIE only=*/1, 25).taken, 0);
}

TEST(Machine, NoInterruptWhileMieBitIsClear) {
  EXPECT_EQ(run_irq_count(/*mstatus.MIE only=*/2, 25).taken, 0);
}

// The machine looks at a masked interrupt again only after a block that ends in a SYSTEM
// instruction (Machine.cc, on_block): the unmasking one is such an instruction.
TEST(Machine, MaskedInterruptIsTakenRightAfterTheInstructionThatUnmasksIt) {
  TestVm vm("irq_unmask", /*entropy=*/0, /*timer_fires=*/1);
  const auto result = vm.run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_EQ(result.exit_code, 1000);
}

TEST(Machine, SameInputsGiveSameInstructionCount) {
  EXPECT_EQ(run_irq_count(3, 10).instructions, run_irq_count(3, 10).instructions);
}

struct FaultCase {
  uint64_t selector;
  const char* cause;
};

class MachineFault : public ::testing::TestWithParam<FaultCase> {};

TEST_P(MachineFault, StopsWithReport) {
  TestVm vm("fault", GetParam().selector);
  const auto result = vm.run();
  ASSERT_EQ(result.outcome, Outcome::kFaulted);
  EXPECT_NE(result.report.find(GetParam().cause), std::string::npos) << result.report;
  EXPECT_NE(result.report.find(" at pc 0x"), std::string::npos) << result.report;
  EXPECT_NE(result.report.find(" instructions"), std::string::npos) << result.report;
  EXPECT_GT(result.instructions, 0u);
  EXPECT_EQ(vm.console, "fault: starting\n");
}

INSTANTIATE_TEST_SUITE_P(
    Causes, MachineFault,
    ::testing::Values(FaultCase{1, "illegal instruction 0xffffffff"},
                      FaultCase{2, "read from unmapped address 0x1234"},
                      FaultCase{3, "write to unmapped address 0x40000000"},
                      FaultCase{4, "instruction fetch from unmapped address 0x50000000"},
                      FaultCase{5, "unknown hypercall 99"},
                      FaultCase{6, "console write of 8 bytes at 0x10 is outside RAM"}));

// The instruction word at the pc a fault report names, read from the guest image.
uint32_t instruction_at_reported_pc(const std::string& report, const std::string& guest) {
  const size_t at = report.find(" at pc 0x");
  EXPECT_NE(at, std::string::npos);
  const uint64_t pc = std::stoull(report.substr(at + 7), nullptr, 16);
  const auto image = test_guest(guest);
  for (const auto& seg : image.segments) {
    if (pc >= seg.vaddr && pc + 4 <= seg.vaddr + seg.bytes.size()) {
      uint32_t word;
      std::memcpy(&word, seg.bytes.data() + (pc - seg.vaddr), 4);
      return word;
    }
  }
  ADD_FAILURE() << "reported pc is outside the image: " << report;
  return 0;
}

TEST(Machine, BadLoadReportNamesTheLoadInstruction) {
  TestVm vm("fault", 2);
  const auto result = vm.run();
  ASSERT_EQ(result.outcome, Outcome::kFaulted);
  EXPECT_EQ(instruction_at_reported_pc(result.report, "fault") & 0x7f, 0x03u) << result.report;
}

TEST(Machine, BadStoreReportNamesTheStoreInstruction) {
  TestVm vm("fault", 3);
  const auto result = vm.run();
  ASSERT_EQ(result.outcome, Outcome::kFaulted);
  EXPECT_EQ(instruction_at_reported_pc(result.report, "fault") & 0x7f, 0x23u) << result.report;
}

TEST(Machine, StopRequestEndsAnIdleGuest) {
  TestVm vm("echo");
  std::thread stopper([&] { vm.inputs.request_stop(); });
  const auto result = vm.run();
  stopper.join();
  EXPECT_EQ(result.outcome, Outcome::kStopped);
}

}  // namespace
}  // namespace vmft::testing
