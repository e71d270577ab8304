// The backup's role in-process: it replays a log recorded against fake host services and, where
// that log ends without the recording's end (its primary was lost), goes live, or keeps what a
// live side needs to know.
#include <gtest/gtest.h>

#include <algorithm>

#include "Fakes.h"
#include "vmft/hypervisor/BackupRole.h"

namespace vmft::testing {
namespace {

using logchannel::Record;
using Outcome = hypervisor::RunResult::Outcome;

/// A primary's log as its backup has it once the primary is gone: `records`, and no more.
class EndedLog final : public logchannel::RecordSource {
 public:
  EndedLog(std::vector<Record> records, uint64_t released)
      : records_(std::move(records)), released_(released) {
    header_.ram_size = 16ULL << 20;
    header_.has_udp = header_.has_tcp = true;
  }
  const logchannel::LogHeader& header() const override { return header_; }
  std::optional<Record> next_record() override {
    if (next_ == records_.size()) return std::nullopt;
    return records_[next_++];
  }
  bool ended() const override { return next_ == records_.size(); }
  uint64_t outputs_released() const override { return released_; }

 private:
  logchannel::LogHeader header_;
  std::vector<Record> records_;
  size_t next_ = 0;
  uint64_t released_;
};

std::vector<Record> recording(const std::string& guest, int timer_fires,
                              const std::vector<std::string>& datagrams = {}) {
  MemoryLog log;
  TestVm vm(guest, 12345, timer_fires, &log);
  for (const auto& text : datagrams) {
    vm.inputs.push(devices::NetEvent{VMFT_NIC_KIND_UDP, 0, 0x7f000001, 4000,
                                     std::vector<uint8_t>(text.begin(), text.end())});
  }
  const auto result = vm.run();
  EXPECT_EQ(result.outcome, Outcome::kExited) << result.report;
  return log.records;
}

bool is_read(const Record& r) {
  return std::holds_alternative<logchannel::ClockRead>(r.body) ||
         std::holds_alternative<logchannel::EntropyRead>(r.body);
}

/// The backup, with the live role it goes live as (on the same fake services as TestVm's).
struct Backup {
  Backup(std::vector<Record> records, uint64_t released, const std::string& guest)
      : log(std::move(records), released),
        timer(inputs, 0),
        entropy_source(7),
        live({clock, entropy_source, timer, net}, inputs, nullptr),
        role(log, inputs, [this](const hypervisor::Takeover& t) -> hypervisor::Role* {
          takeover = t;
          return go_live ? &live : nullptr;
        }) {
    machine = std::make_unique<hypervisor::Machine>(
        test_guest(guest),
        hypervisor::MachineConfig{
            16ULL << 20,
            [this](std::span<const uint8_t> b) { console.append(b.begin(), b.end()); }},
        role);
  }

  EndedLog log;
  hypervisor::InputQueue inputs;
  SteppingClock clock;
  ImmediateTimer timer;
  FixedEntropy entropy_source;
  RecordingNet net;
  hypervisor::LiveRole live;
  hypervisor::BackupRole role;
  bool go_live = true;
  std::optional<hypervisor::Takeover> takeover;
  std::string console;
  std::unique_ptr<hypervisor::Machine> machine;
};

// Issue 15: a block's reads share its end count, and a primary lost between two of them leaves
// a log that ends in the middle of the block. The backup goes live right there; it used to
// report a divergence ("the guest read the wall clock, but the log has ended").
TEST(BackupRole, GoesLiveWhereThePrimarysLogEndsInTheMiddleOfABlock) {
  std::vector<Record> records = recording("nondet", 5, {"one", "quit"});
  const auto second =
      std::adjacent_find(records.begin(), records.end(), [](const Record& a, const Record& b) {
        return is_read(a) && is_read(b) && a.icount == b.icount;
      });
  ASSERT_NE(second, records.end()) << "no block of the recording reads two inputs";
  const uint64_t cut_at = second->icount;
  records.erase(second + 1, records.end());  // the first of the two reads is the last record

  Backup backup(std::move(records), 0, "nondet");
  const auto result = backup.machine->run();
  EXPECT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_EQ(backup.role.went_live_at(), std::optional<uint64_t>(cut_at));
  EXPECT_NE(backup.console.find("nondet: mix"), std::string::npos) << backup.console;
}

// Issue 15: the primary writes a console line only once its backup has the log through it, and
// says so with its next batch; the backup keeps every line after the last it heard of, for the
// live side to write if the primary was lost before it did.
TEST(BackupRole, KeepsTheConsoleOutputThePrimaryMayNotHaveWritten) {
  std::vector<Record> records = recording("nondet", 5, {"one", "quit"});
  std::vector<uint64_t> writes;  // the seqs of the console writes: "ready", then the mix
  for (const Record& r : records) {
    const auto* out = std::get_if<logchannel::Output>(&r.body);
    if (out && out->kind == logchannel::OutputKind::kConsole) writes.push_back(r.seq);
  }
  ASSERT_GE(writes.size(), 3u);
  records.resize(writes.back());  // the primary was lost right after the last

  Backup backup(std::move(records), /*released=*/writes[0], "nondet");
  backup.go_live = false;
  const auto result = backup.machine->run();
  EXPECT_EQ(result.outcome, Outcome::kStopped) << result.report;  // it declined
  ASSERT_TRUE(backup.takeover);
  const auto& kept = backup.takeover->unreleased_console;
  ASSERT_EQ(kept.size(), writes.size() - 1);
  std::string text;
  for (size_t i = 0; i < kept.size(); ++i) {
    EXPECT_EQ(kept[i].first, writes[i + 1]);
    text.append(kept[i].second.begin(), kept[i].second.end());
  }
  EXPECT_EQ(text.rfind("nondet: mix ", 0), 0u) << text;
}

}  // namespace
}  // namespace vmft::testing
