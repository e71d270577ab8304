// Record in-process against fake host services, then replay the log: an untouched log
// replays exactly, and each kind of perturbation is caught as a divergence.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <functional>

#include "Fakes.h"
#include "vmft/hypervisor/ReplayRole.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::testing {
namespace {

using logchannel::Record;
using Outcome = hypervisor::RunResult::Outcome;

devices::NetEvent datagram(const std::string& text) {
  return {VMFT_NIC_KIND_UDP, 0, 0x7f000001, 4000, std::vector<uint8_t>(text.begin(), text.end())};
}

class Replay : public ::testing::Test {
 protected:
  Replay() {
    char tmpl[] = "/tmp/vmft-replay-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~Replay() override { std::filesystem::remove_all(dir_); }

  // Records the nondet guest: five timer ticks, some datagrams, then "quit".
  std::string record() {
    const std::string path = dir_ + "/recorded.log";
    logchannel::LogWriter log(
        path, logchannel::guest_log_header(std::string(VMFT_GUEST_DIR) + "/nondet.elf", 16ULL << 20,
                                           /*has_udp=*/true, /*has_tcp=*/true));
    TestVm vm("nondet", /*entropy=*/12345, /*timer_fires=*/5, &log);
    for (const char* text : {"one", "two", "three"}) vm.inputs.push(datagram(text));
    vm.inputs.push(datagram("quit"));
    const auto result = vm.run();
    EXPECT_EQ(result.outcome, Outcome::kExited) << result.report;
    return path;
  }

  // Rewrites the log at `path` through `edit`, renumbering, so the reader accepts it and the
  // replayer is what must notice.
  std::string perturb(const std::string& path,
                      const std::function<void(std::vector<Record>&)>& edit) {
    logchannel::LogReader reader(path);
    std::vector<Record> records;
    while (auto r = reader.next_record()) records.push_back(std::move(*r));
    edit(records);
    const std::string out = dir_ + "/perturbed.log";
    logchannel::LogWriter writer(out, reader.header());
    for (size_t i = 0; i < records.size(); ++i) {
      records[i].seq = i + 1;
      writer.append(records[i]);
    }
    writer.close();
    return out;
  }

  hypervisor::RunResult replay(const std::string& path) {
    logchannel::LogReader log(path);
    hypervisor::InputQueue stop_requests;
    hypervisor::ReplayRole role(log, stop_requests);
    hypervisor::Machine machine(test_guest("nondet"), {log.header().ram_size, {}}, role);
    return machine.run();
  }

  template <typename T>
  static T* find_nth(
      std::vector<Record>& records, int n,
      const std::function<bool(const T&)>& match = [](const T&) { return true; }) {
    for (auto& r : records) {
      if (auto* body = std::get_if<T>(&r.body); body && match(*body) && n-- == 0) return body;
    }
    return nullptr;
  }

  std::string dir_;
};

TEST_F(Replay, UntouchedLogReplaysExactly) {
  const auto result = replay(record());
  EXPECT_EQ(result.outcome, Outcome::kExited) << result.report;
}

TEST_F(Replay, ChangedClockValueIsCaught) {
  const auto path = perturb(record(), [](std::vector<Record>& records) {
    auto* read = find_nth<logchannel::ClockRead>(records, 2);
    ASSERT_NE(read, nullptr);
    read->value += 1;
  });
  const auto result = replay(path);
  EXPECT_EQ(result.outcome, Outcome::kDiverged);
  EXPECT_NE(result.report.find("replay diverged at instruction"), std::string::npos)
      << result.report;
}

TEST_F(Replay, InterruptMovedByOneInstructionIsCaughtWhereItWasMoved) {
  uint64_t moved_to = 0;
  const auto path = perturb(record(), [&](std::vector<Record>& records) {
    // The timer input and the interrupt it caused, both one instruction later.
    for (size_t i = 0; i + 1 < records.size(); ++i) {
      if (std::holds_alternative<logchannel::TimerFired>(records[i].body) &&
          std::holds_alternative<logchannel::InterruptTaken>(records[i + 1].body)) {
        moved_to = ++records[i].icount;
        ++records[i + 1].icount;
        return;
      }
    }
    FAIL() << "no timer record followed by its interrupt";
  });
  const auto result = replay(path);
  EXPECT_EQ(result.outcome, Outcome::kDiverged);
  EXPECT_NE(result.report.find("replay diverged at instruction " + std::to_string(moved_to) +
                               ": the log applies a timer input here"),
            std::string::npos)
      << result.report;
}

TEST_F(Replay, FlippedPacketByteIsCaught) {
  const auto path = perturb(record(), [](std::vector<Record>& records) {
    auto* input = find_nth<logchannel::NetInput>(records, 0);
    ASSERT_NE(input, nullptr);
    input->data[0] ^= 1;
  });
  const auto result = replay(path);
  EXPECT_EQ(result.outcome, Outcome::kDiverged);
  EXPECT_NE(result.report.find("output differs"), std::string::npos) << result.report;
}

TEST_F(Replay, DroppedEventIsCaught) {
  const auto path = perturb(record(), [](std::vector<Record>& records) {
    for (auto it = records.begin(); it != records.end(); ++it) {
      if (std::holds_alternative<logchannel::NetInput>(it->body)) {
        records.erase(it);
        return;
      }
    }
    FAIL() << "no network record";
  });
  const auto result = replay(path);
  EXPECT_EQ(result.outcome, Outcome::kDiverged) << result.report;
}

TEST_F(Replay, DigestMismatchNamesTheRegisterWithBothValues) {
  const auto path = perturb(record(), [](std::vector<Record>& records) {
    auto* digest = find_nth<logchannel::StateDigest>(records, 0);
    ASSERT_NE(digest, nullptr);
    digest->regs[10] ^= 0xff;  // a0
  });
  const auto result = replay(path);
  EXPECT_EQ(result.outcome, Outcome::kDiverged);
  EXPECT_NE(result.report.find("a0: recorded"), std::string::npos) << result.report;
}

// A recorder that cannot write its log stops the guest instead of running on unrecorded.
TEST_F(Replay, RecorderStopsWhenTheLogCannotBeWritten) {
  // Writes past RLIMIT_FSIZE fail with EFBIG once SIGXFSZ is ignored (ctest runs each test
  // in its own process; the limit is put back anyway).
  signal(SIGXFSZ, SIG_IGN);
  rlimit old{};
  getrlimit(RLIMIT_FSIZE, &old);
  rlimit small = old;
  small.rlim_cur = 16 * 1024;
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);

  logchannel::LogHeader header;
  header.guest_digest = 1;
  header.ram_size = 16ULL << 20;
  header.has_udp = true;
  logchannel::LogWriter log(dir_ + "/small.log", header);
  TestVm vm("nondet", 12345, 0, &log);
  for (int i = 0; i < 40; i++) vm.inputs.push(datagram(std::string(2000, 'x')));
  vm.inputs.push(datagram("quit"));
  const auto result = vm.run();
  setrlimit(RLIMIT_FSIZE, &old);

  EXPECT_EQ(result.outcome, Outcome::kStopped) << result.report;
  ASSERT_TRUE(vm.role.log_error());
  EXPECT_NE(vm.role.log_error()->find("File too large"), std::string::npos) << *vm.role.log_error();
  EXPECT_LT(vm.net.sent.size(), 40u) << "the guest went on after its log failed";
  // Every reply that left is in the readable part of the log.
  logchannel::LogReader reader(dir_ + "/small.log");
  size_t logged_replies = 0;
  try {
    while (auto r = reader.next_record()) {
      if (std::holds_alternative<logchannel::Output>(r->body) &&
          std::get<logchannel::Output>(r->body).kind == logchannel::OutputKind::kUdp) {
        ++logged_replies;
      }
    }
  } catch (const logchannel::LogError&) {
    // the part the limit cut off
  }
  EXPECT_LE(vm.net.sent.size(), logged_replies);
}

}  // namespace
}  // namespace vmft::testing
