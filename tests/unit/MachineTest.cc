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

// The issue that found it: under the old linker script .rodata shared the executable segment,
// and these constants read back as rdtime (0xc0102573).
TEST(Machine, ConstantsThatLookLikeCounterReadsAreLeftAlone) {
  TestVm vm("lookalikes");
  const auto result = vm.run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_EQ(vm.console, std::to_string(0xc0002573U) + "\n" + std::to_string(0xc0202573U) + "\n" +
                            std::to_string(0xb0002573U) + "\n" + std::to_string(0xb02027f3U) +
                            "\ncycle read\n");
}

// Built with the SDK, which links the rv64im/lp64 libgcc; the default -lgcc would not link.
TEST(Machine, GuestsUseLibgccForDoublesInt128DivisionAndPopcount) {
  TestVm vm("libgcc");
  const auto result = vm.run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  // Worked out on the host: (1.5 * 2.25 + 1.5 / 2.25) * 1e6, and (0x0123456789abcdef << 64 |
  // 12345) divided by 1000003.
  EXPECT_EQ(vm.console,
            "double=4041666\n"
            "i128_quotient_high=81985283260\n"
            "i128_quotient_low=11752662092535183372\n"
            "i128_remainder=290069\n"
            "popcount=32\n");
}

// The SDK's picolibc: crt0 sets up tp (errno and _Thread_local), runs constructors, and passes
// main's result through exit(), which runs atexit handlers and writes stdio's unfinished line.
TEST(Machine, GuestsAreOrdinaryCOnPicolibc) {
  TestVm vm("clib");
  const auto result = vm.run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_EQ(result.exit_code, 7);
  EXPECT_EQ(vm.console,
            "constructor 42\n"
            "printf -12 34 5678901234 beef str c  3.14\n"
            "snprintf 14 '00123456|ab  |'\n"
            "malloc intact, again ok\n"
            "huge malloc NULL\n"
            "string hello, world 12 1 world\n"
            "errno ERANGE 1\n"
            "tls 7 3\n"
            "unfinished line, written at exitatexit ran\n");
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

// A log that counts its flushes, and a network that notes, at each send, what the log had by
// then; it stops the machine once it has `stop_after` sends.
struct FlushCountingLog final : logchannel::RecordSink {
  void append(const logchannel::Record& record) override { records.push_back(record); }
  void flush() override { flushed = records.size(); }
  void close() override {}
  std::vector<logchannel::Record> records;
  size_t flushed = 0;  ///< records flushed so far
};
struct NotingNet final : devices::NetBackend {
  NotingNet(const FlushCountingLog& log, hypervisor::InputQueue& inputs, size_t stop_after)
      : log(log), inputs(inputs), stop_after(stop_after) {}
  bool has_udp() const override { return true; }
  bool has_tcp() const override { return true; }
  void send_udp(uint32_t, uint32_t, std::vector<uint8_t> data) override {
    sent.emplace_back(data.begin(), data.end());
    flushed_at_send.push_back(log.flushed);
    if (sent.size() == stop_after) inputs.request_stop();
  }
  void send_tcp(uint32_t, std::vector<uint8_t>) override {}
  void close_tcp(uint32_t) override {}
  std::optional<devices::FrameConfig> frames() const override { return std::nullopt; }
  void send_frame(std::vector<uint8_t>) override {}
  void flush() override { ++flushes; }
  void delivered(const devices::NetEvent&) override {}
  const FlushCountingLog& log;
  hypervisor::InputQueue& inputs;
  size_t stop_after;
  std::vector<std::string> sent;
  std::vector<size_t> flushed_at_send;
  int flushes = 0;
};

// The echo guest answers three datagrams that arrive together at one doorbell: the three
// replies are logged at one instruction, the log is flushed once, and only then do they leave,
// in order, as one batch.
TEST(Machine, ADoorbellsSendsAreLoggedThenFlushedOnceThenLeaveTogether) {
  hypervisor::InputQueue inputs;
  SteppingClock clock;
  FixedEntropy entropy(0);
  ImmediateTimer timer(inputs, 0);
  FlushCountingLog log;
  NotingNet net(log, inputs, 3);
  hypervisor::LiveRole role({clock, entropy, timer, net}, inputs, &log);
  hypervisor::Machine machine(test_guest("echo"), {16ULL << 20, {}}, role);
  for (const char* text : {"one", "two", "three"}) {
    inputs.push(devices::NetEvent{VMFT_NIC_KIND_UDP, 0, 0x7f000001, 4000,
                                  std::vector<uint8_t>(text, text + std::strlen(text))});
  }
  const auto result = machine.run();
  ASSERT_EQ(result.outcome, Outcome::kStopped) << result.report;
  EXPECT_EQ(net.sent, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_EQ(net.flushes, 1);
  std::vector<const logchannel::Record*> replies;
  for (const auto& r : log.records) {
    if (const auto* out = std::get_if<logchannel::Output>(&r.body);
        out && out->kind == logchannel::OutputKind::kUdp) {
      replies.push_back(&r);
    }
  }
  ASSERT_EQ(replies.size(), 3u);
  EXPECT_EQ(replies[0]->icount, replies[2]->icount);
  // Every reply was in the flushed log before the first one left.
  for (size_t flushed : net.flushed_at_send) EXPECT_GE(flushed, replies[2]->seq);
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
