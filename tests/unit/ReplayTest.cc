// Record in-process against fake host services, then replay the log: an untouched log
// replays exactly, and each kind of perturbation is caught as a divergence.
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <unistd.h>

#include <csignal>
#include <deque>
#include <filesystem>
#include <functional>
#include <optional>
#include <regex>

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

  // Records the nondet guest: five timer ticks, some datagrams, then "quit"; a state digest
  // every `digest_interval` instructions.
  std::string record(uint64_t digest_interval = hypervisor::kDigestInterval) {
    const std::string path = dir_ + "/recorded.log";
    logchannel::LogWriter log(
        path, logchannel::guest_log_header(std::string(VMFT_GUEST_DIR) + "/nondet.elf", 16ULL << 20,
                                           /*has_udp=*/true, /*has_tcp=*/true, digest_interval,
                                           hypervisor::emulator_name()));
    TestVm vm("nondet", /*entropy=*/12345, /*timer_fires=*/5, &log);
    // TestVm's machine takes digests at the default interval: this one at the log's.
    vm.machine = std::make_unique<hypervisor::Machine>(
        test_guest("nondet"), hypervisor::MachineConfig{16ULL << 20, {}, digest_interval}, vm.role);
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
    hypervisor::Machine machine(test_guest("nondet"),
                                {log.header().ram_size, {}, log.header().digest_interval}, role);
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

  // The index of the first record from `from` on with a T body that `match`es, or
  // records.size().
  template <typename T>
  static size_t index_of(
      const std::vector<Record>& records, size_t from = 0,
      const std::function<bool(const T&)>& match = [](const T&) { return true; }) {
    for (size_t i = from; i < records.size(); ++i) {
      if (const auto* body = std::get_if<T>(&records[i].body); body && match(*body)) return i;
    }
    return records.size();
  }

  // The instruction count of the first record after `index` with a T body that `match`es.
  template <typename T>
  static uint64_t next_icount(
      const std::vector<Record>& records, size_t index,
      const std::function<bool(const T&)>& match = [](const T&) { return true; }) {
    const size_t next = index_of<T>(records, index + 1, match);
    EXPECT_LT(next, records.size()) << "no such record after #" << records[index].seq;
    return next < records.size() ? records[next].icount : 0;
  }

  static bool is_udp(const logchannel::Output& output) {
    return output.kind == logchannel::OutputKind::kUdp;
  }

  std::string dir_;
};

// What a divergence report says about where the difference lies.
struct Window {
  uint64_t detected = 0;  ///< the instruction where it was detected
  uint64_t verified = 0;  ///< the last instruction where state was verified equal (0: boot)
  std::string lines;      ///< the report from the verified point on, inputs included
};

std::optional<Window> window_of(const std::string& report) {
  static const std::regex detected(R"(\n  difference detected at instruction (\d+))");
  static const std::regex verified(R"(\n  state last verified equal to the recording's: )"
                                   R"((?:the digest at instruction (\d+)|boot \(instruction 0\)))");
  std::smatch d, v;
  if (!std::regex_search(report, d, detected) || !std::regex_search(report, v, verified)) {
    return std::nullopt;
  }
  return Window{std::stoull(d[1]), v[1].matched ? std::stoull(v[1]) : 0,
                report.substr(static_cast<size_t>(v.position(0)))};
}

TEST_F(Replay, UntouchedLogReplaysExactly) {
  const auto result = replay(record());
  EXPECT_EQ(result.outcome, Outcome::kExited) << result.report;
}

// nondet.c stirs the wall clock it reads at boot into every reply it sends: the first UDP
// reply after the read is the first check that must fail.
TEST_F(Replay, ChangedClockValueIsCaughtAtTheFirstReplyThatMixesItIn) {
  uint64_t first_affected = 0;
  Record changed;
  const auto path = perturb(record(), [&](std::vector<Record>& records) {
    const size_t read = index_of<logchannel::ClockRead>(
        records, 0, [](const auto& c) { return c.source == logchannel::ClockSource::kWall; });
    ASSERT_LT(read, records.size());
    first_affected = next_icount<logchannel::Output>(records, read, is_udp);
    std::get<logchannel::ClockRead>(records[read].body).value += 1;
    changed = records[read];
  });
  const auto result = replay(path);
  ASSERT_EQ(result.outcome, Outcome::kDiverged);
  const auto window = window_of(result.report);
  ASSERT_TRUE(window) << result.report;
  EXPECT_EQ(window->detected, first_affected) << result.report;
  EXPECT_NE(window->lines.find(logchannel::describe(changed)), std::string::npos) << result.report;
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

// nondet.c echoes each datagram (with its mix): the echo of the first one is the first check
// that must fail.
TEST_F(Replay, FlippedPacketByteIsCaughtAtItsEcho) {
  uint64_t echo = 0;
  Record flipped;
  const auto path = perturb(record(), [&](std::vector<Record>& records) {
    const size_t input = index_of<logchannel::NetInput>(records);
    ASSERT_LT(input, records.size());
    echo = next_icount<logchannel::Output>(records, input, is_udp);
    std::get<logchannel::NetInput>(records[input].body).data[0] ^= 1;
    flipped = records[input];
  });
  const auto result = replay(path);
  ASSERT_EQ(result.outcome, Outcome::kDiverged);
  EXPECT_NE(result.report.find("output differs"), std::string::npos) << result.report;
  const auto window = window_of(result.report);
  ASSERT_TRUE(window) << result.report;
  EXPECT_EQ(window->detected, echo) << result.report;
  EXPECT_NE(window->lines.find(logchannel::describe(flipped)), std::string::npos) << result.report;
}

// Without the first datagram the guest's first reply is to the second one, and not where the
// recording replied to the first: that reply is the first check that must fail.
TEST_F(Replay, DroppedEventIsCaughtWhereItsReplyWasDue) {
  uint64_t dropped_at = 0;
  uint64_t reply = 0;
  const auto path = perturb(record(), [&](std::vector<Record>& records) {
    const size_t input = index_of<logchannel::NetInput>(records);
    ASSERT_LT(input, records.size());
    dropped_at = records[input].icount;
    reply = next_icount<logchannel::Output>(records, input, is_udp);
    records.erase(records.begin() + static_cast<ptrdiff_t>(input));
  });
  const auto result = replay(path);
  ASSERT_EQ(result.outcome, Outcome::kDiverged) << result.report;
  const auto window = window_of(result.report);
  ASSERT_TRUE(window) << result.report;
  EXPECT_EQ(window->detected, reply) << result.report;
  EXPECT_LE(window->verified, dropped_at) << result.report;
}

// nondet.c keeps the tick period it derives from entropy in RAM: the first digest after the
// read must fail, and the report's window reaches back no further than the digest before.
TEST_F(Replay, SmallDigestIntervalNarrowsTheWindowToOneInterval) {
  constexpr uint64_t kInterval = 1000;
  // Digests are taken at block boundaries: the first at or after each multiple of the
  // interval, at most one block (TCG_MAX_INSNS = 512 instructions) late.
  constexpr uint64_t kLongestBlock = 512;
  uint64_t first_digest_after = 0;
  Record changed;
  const auto path = perturb(record(kInterval), [&](std::vector<Record>& records) {
    const size_t read = index_of<logchannel::EntropyRead>(records);
    ASSERT_LT(read, records.size());
    first_digest_after = next_icount<logchannel::StateDigest>(records, read);
    std::get<logchannel::EntropyRead>(records[read].body).value ^= 0x10000;
    changed = records[read];
  });
  const auto result = replay(path);
  ASSERT_EQ(result.outcome, Outcome::kDiverged);
  EXPECT_NE(result.report.find("RAM differs"), std::string::npos) << result.report;
  const auto window = window_of(result.report);
  ASSERT_TRUE(window) << result.report;
  EXPECT_EQ(window->detected, first_digest_after) << result.report;
  EXPECT_GT(window->verified, 0u) << "no digest matched before the difference\n" << result.report;
  EXPECT_LE(window->detected - window->verified, kInterval + kLongestBlock) << result.report;
  EXPECT_NE(window->lines.find(logchannel::describe(changed)), std::string::npos) << result.report;
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

TEST(DivergenceWindow, OneInputIsWhereStateFirstDiffers) {
  hypervisor::DivergenceWindow window;
  window.verified(1000);
  window.applied({7, 1234, logchannel::ClockRead{logchannel::ClockSource::kMono, 42}});
  EXPECT_EQ(window.describe(1500),
            "\n  state last verified equal to the recording's: the digest at instruction 1000"
            "\n  difference detected at instruction 1500"
            "\n  guest state first differs at instruction 1234, at the one input the replay "
            "applied in between:"
            "\n    #7 @1234 clock mono=42");
}

TEST(DivergenceWindow, InputsAtOneInstructionAreWhereStateFirstDiffersWithTheInterruptsPc) {
  hypervisor::DivergenceWindow window;
  window.applied({3, 1234, logchannel::TimerFired{1}});
  window.applied({4, 1234, logchannel::InterruptTaken{7, 0x80000100}});
  EXPECT_NE(window.describe(1500).find("\n  guest state first differs at instruction 1234 (pc "
                                       "0x80000100), where the replay applied all 2 inputs in "
                                       "between:\n    #3 @1234 timer generation=1\n    #4 @1234 "
                                       "irq cause=7 pc=0x80000100"),
            std::string::npos)
      << window.describe(1500);
}

TEST(DivergenceWindow, ListsTheFirstInputsSinceBootAndCountsTheRest) {
  hypervisor::DivergenceWindow window;
  for (uint64_t i = 1; i <= hypervisor::DivergenceWindow::kListedInputs + 2; ++i) {
    window.applied({i, 100 * i, logchannel::EntropyRead{i}});
  }
  const std::string report = window.describe(5000);
  EXPECT_NE(report.find("verified equal to the recording's: boot (instruction 0)\n"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("\n  guest state first differs at or after the first of the 10 inputs "
                        "the replay applied in between (the state matched before it, and "
                        "between inputs execution is deterministic):\n    #1 @100 entropy"),
            std::string::npos)
      << report;
  EXPECT_NE(report.find("\n    #8 @800 entropy value=0x8\n    ... and 2 more"), std::string::npos)
      << report;
  EXPECT_EQ(report.find("#9 "), std::string::npos) << report;
}

TEST(DivergenceWindow, StartsAgainAtADigestThatMatched) {
  hypervisor::DivergenceWindow window;
  window.applied({1, 100, logchannel::EntropyRead{1}});
  window.verified(200);
  const std::string report = window.describe(300);
  EXPECT_NE(report.find("the digest at instruction 200\n"), std::string::npos) << report;
  EXPECT_NE(report.find("\n  the replay applied no input in between"), std::string::npos) << report;
  EXPECT_EQ(report.find("#1 "), std::string::npos) << report;
}

// A live log as the backup reads it, with the io thread played at the worst moment: a batch
// waits to arrive the instant the vCPU next finds the queue empty, before its next look.
// Deterministic: no thread, no timing.
class BatchOnEmptyLog final : public logchannel::RecordSource {
 public:
  const logchannel::LogHeader& header() const override { return header_; }
  std::optional<Record> next_record() override {
    if (queue_.empty()) {
      if (batch_) {  // after this look, before the next
        queue_.insert(queue_.end(), batch_->first.begin(), batch_->first.end());
        bound_ = batch_->second;
        batch_.reset();
      }
      return std::nullopt;
    }
    Record r = std::move(queue_.front());
    queue_.pop_front();
    return r;
  }
  bool ended() const override { return false; }
  uint64_t complete_below() const override { return bound_; }

  uint64_t bound_ = 0;
  /// Records, and the progress mark that comes with them (every record below it has come).
  std::optional<std::pair<std::vector<Record>, uint64_t>> batch_;

 private:
  logchannel::LogHeader header_;
  std::deque<Record> queue_;
};

// Issue 15: ReplayRole read the log's head and then complete_below(). A batch that arrived in
// between raised the run limit past its record while the head, read before, said nothing was
// due: the machine, which looks at a block boundary only where something is due or the limit
// is reached, ran past a timer interrupt ("the guest read the time CSR at instruction ...,
// but the log has a timer record at ..."). Whatever the interleaving, a record that has
// arrived below the run limit must be due.
TEST(ReplayRoleOnALiveLog, RecordArrivingBetweenItsLooksAtTheLogIsNotRunPast) {
  BatchOnEmptyLog log;
  log.bound_ = 50;  // the primary's mark so far: nothing below it
  hypervisor::InputQueue stop_requests;
  hypervisor::ReplayRole role(log, stop_requests);
  // The primary's timer fires at instruction 100; it runs on to 1000 and sends the batch.
  log.batch_.emplace(std::vector<Record>{{1, 100, logchannel::TimerFired{1}}}, 1000);
  // A block boundary below the limit with nothing due: the role looks at the log again.
  role.boundary_done(10, 0x80000000);
  ASSERT_FALSE(log.batch_) << "the role did not look at the log";
  EXPECT_LE(std::min(role.due_icount(), role.run_limit()), 100u)
      << "the machine may run past instruction 100 (due " << role.due_icount() << ", limit "
      << role.run_limit() << ") without applying the timer input logged there";
}

// A live log from the stingiest io thread: records arrive only while the vCPU waits for them,
// one at a time until it may go on, and each says no more than ChannelBackup's last_icount_
// does: every record below its instruction count has come. So a batch ends anywhere, even
// between two records of one block, which the machine stamps alike with the block's end.
class ArrivingWhenWaitedForLog final : public logchannel::RecordSource {
 public:
  explicit ArrivingWhenWaitedForLog(const std::string& path) : reader_(path) {}
  const logchannel::LogHeader& header() const override { return reader_.header(); }
  std::optional<Record> next_record() override {
    if (queue_.empty()) return std::nullopt;
    Record r = std::move(queue_.front());
    queue_.pop_front();
    return r;
  }
  bool ended() const override { return at_end_ && queue_.empty(); }
  uint64_t complete_below() const override { return at_end_ ? UINT64_MAX : bound_; }
  void wait_for(uint64_t icount) override {
    while (!at_end_ && bound_ < icount) {
      if (auto r = reader_.next_record()) {
        bound_ = r->icount;
        queue_.push_back(std::move(*r));
      } else {
        at_end_ = true;
      }
    }
  }

 private:
  logchannel::LogReader reader_;
  std::deque<Record> queue_;
  uint64_t bound_ = 0;
  bool at_end_ = false;
};

// Issue 15: a block's clock and entropy reads are all logged at the block's end, so a log
// complete below that count may still lack some of them; the machine ran such a block when
// the limit equalled its end ("the guest read entropy, but the log has ended").
TEST_F(Replay, LogCutBetweenTwoRecordsOfOneBlockIsNotRunPast) {
  ArrivingWhenWaitedForLog log(record());
  hypervisor::InputQueue stop_requests;
  hypervisor::ReplayRole role(log, stop_requests);
  hypervisor::Machine machine(test_guest("nondet"),
                              {log.header().ram_size, {}, log.header().digest_interval}, role);
  const auto result = machine.run();
  EXPECT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_TRUE(role.stats().complete);
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
