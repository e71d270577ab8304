// Snapshots of a Machine: a machine restored from one goes on exactly as the original did
// (fed the rest of the original's log, or the same continuation of fake inputs), wherever the
// snapshot was taken; the encoding round-trips and refuses damaged bytes.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <future>
#include <memory>
#include <optional>
#include <thread>

#include "Fakes.h"
#include "vmft/hypervisor/ReplayRole.h"
#include "vmft/hypervisor/Snapshot.h"

namespace vmft::testing {
namespace {

using hypervisor::GuestState;
using hypervisor::Machine;
using hypervisor::MachineSnapshot;
using hypervisor::RamCopy;
using hypervisor::SnapshotError;
using logchannel::Record;
using Outcome = hypervisor::RunResult::Outcome;

constexpr uint64_t kRam = 16ULL << 20;
// Small, so that the replays below check many state digests.
constexpr uint64_t kDigestEvery = 20000;

class MemorySource final : public logchannel::RecordSource {
 public:
  explicit MemorySource(std::vector<Record> records) : records_(std::move(records)) {
    header_.ram_size = kRam;
    header_.has_udp = header_.has_tcp = true;  // as RecordingNet
    header_.digest_interval = kDigestEvery;
  }
  const logchannel::LogHeader& header() const override { return header_; }
  std::optional<Record> next_record() override {
    if (next_ == records_.size()) return std::nullopt;
    return records_[next_++];
  }
  bool ended() const override { return next_ == records_.size(); }

 private:
  logchannel::LogHeader header_;
  std::vector<Record> records_;
  size_t next_ = 0;
};

/// Fires the first `immediate` arms at once, as ImmediateTimer; later ones when fire() says.
class TestTimer final : public devices::TimerBackend {
 public:
  TestTimer(hypervisor::InputQueue& inputs, int immediate)
      : inputs_(inputs), immediate_(immediate) {}
  void arm(uint64_t, uint64_t generation) override {
    armed = generation;
    if (immediate_-- > 0) inputs_.push(hypervisor::TimerExpired{generation});
  }
  void disarm() override { armed.reset(); }
  /// The host timer goes off now.
  void fire() {
    if (armed) inputs_.push(hypervisor::TimerExpired{*armed});
  }
  std::optional<uint64_t> armed;

 private:
  hypervisor::InputQueue& inputs_;
  int immediate_;
};

/// A snapshot, and how far the log and the console had got when it was taken.
struct Taken {
  MachineSnapshot snapshot;
  size_t records = 0;
  size_t console = 0;
};

/// A guest on fake host services, recording to memory; booted, or restored from a snapshot.
/// `record`: log to `log`, checking a digest every kDigestEvery instructions. Without it the
/// clock is read by the guest alone (a recorder reads it too, to pace its flushes), and digests
/// come at the default interval.
struct Vm {
  explicit Vm(const std::string& guest, int immediate_fires = 0, uint64_t ram = kRam,
              const MachineSnapshot* from = nullptr, bool record = true)
      : timer(inputs, immediate_fires),
        entropy_source(12345),
        role({clock, entropy_source, timer, net}, inputs, record ? &log : nullptr) {
    hypervisor::MachineConfig config{
        ram, [this](std::span<const uint8_t> b) { console.append(b.begin(), b.end()); },
        record ? kDigestEvery : hypervisor::kDigestInterval};
    machine = from ? std::make_unique<Machine>(test_guest(guest), config, role, *from)
                   : std::make_unique<Machine>(test_guest(guest), config, role);
  }
  Vm(const std::string& guest, const MachineSnapshot& from, bool record = true)
      : Vm(guest, 0, from.ram_size, &from, record) {}
  /// A guest run without a log.
  static std::unique_ptr<Vm> standalone(const std::string& guest) {
    return std::make_unique<Vm>(guest, 0, kRam, nullptr, false);
  }

  Taken take(const Machine& m) const {
    EXPECT_EQ(role.last_seq(), log.records.size());
    return {m.snapshot(), role.last_seq(), console.size()};
  }

  hypervisor::InputQueue inputs;
  SteppingClock clock;
  TestTimer timer;
  FixedEntropy entropy_source;
  RecordingNet net;
  MemoryLog log;
  hypervisor::LiveRole role;
  std::string console;
  std::unique_ptr<Machine> machine;
};

/// A machine restored from `taken`, replaying the rest of `recorded`'s log: a backup that
/// joined where the snapshot was taken.
struct Replica {
  Replica(const std::string& guest, const Taken& taken, const std::vector<Record>& recorded)
      : source({recorded.begin() + static_cast<ptrdiff_t>(taken.records), recorded.end()}),
        role(source, stop_requests),
        machine(test_guest(guest),
                {kRam, [this](std::span<const uint8_t> b) { console.append(b.begin(), b.end()); },
                 kDigestEvery},
                role, taken.snapshot) {}

  MemorySource source;
  hypervisor::InputQueue stop_requests;
  hypervisor::ReplayRole role;
  std::string console;
  Machine machine;
};

/// Runs `step` at every safe point of `m`'s runs until it returns true.
void at_each_safe_point(Machine& m, std::function<bool(Machine&)> step) {
  m.at_next_boundary([step = std::move(step)](Machine& at) mutable {
    if (!step(at)) at_each_safe_point(at, std::move(step));
  });
}

void expect_same(const MachineSnapshot& a, const MachineSnapshot& b) {
  EXPECT_EQ(hypervisor::describe_snapshot_difference(a, b), "");
  EXPECT_TRUE(a == b);
}

devices::NetEvent event(uint32_t kind, uint32_t conn, const std::string& text) {
  return {kind, conn, 0x7f000001, 4000, std::vector<uint8_t>(text.begin(), text.end())};
}

// nondet.c with a timer and a TCP payload bigger than its 4 KiB receive buffer, which the NIC
// delivers in pieces: inputs are queued before it boots and taken at its first boundary.
void feed_nondet(Vm& vm) {
  vm.inputs.push(event(VMFT_NIC_KIND_UDP, 0, "one"));
  vm.inputs.push(event(VMFT_NIC_KIND_TCP_OPEN, 7, ""));
  vm.inputs.push(event(VMFT_NIC_KIND_TCP_DATA, 7, std::string(10000, 'x')));
  vm.inputs.push(event(VMFT_NIC_KIND_UDP, 0, "two"));
  vm.inputs.push(event(VMFT_NIC_KIND_TCP_CLOSE, 7, ""));
  vm.inputs.push(event(VMFT_NIC_KIND_UDP, 0, "quit"));
}

// Snapshots nondet at the first block boundary where the NIC has delivered part of the TCP
// payload, and runs it to its end.
Taken record_nondet_mid_payload(Vm& vm) {
  feed_nondet(vm);
  std::optional<Taken> taken;
  at_each_safe_point(*vm.machine, [&](Machine& m) {
    if (m.position().idle || m.snapshot(RamCopy::kNone).nic.front_offset == 0) return false;
    taken = vm.take(m);
    return true;
  });
  const auto result = vm.machine->run();
  EXPECT_EQ(result.outcome, Outcome::kExited) << result.report;
  if (!taken) ADD_FAILURE() << "the TCP payload was never partly delivered at a block boundary";
  return taken.value_or(Taken{});
}

// Drives timer.c: its host timer goes off whenever the guest idles. `at_idle` sees each idle
// point first (counted from 1) and returns whether to go on.
void fire_timer_at_idle(Vm& vm, std::function<bool(Machine&, int)> at_idle) {
  auto idles = std::make_shared<int>(0);
  at_each_safe_point(*vm.machine, [&vm, idles, at_idle = std::move(at_idle)](Machine& m) {
    if (!m.position().idle) return false;
    if (!at_idle(m, ++*idles)) return true;
    if (!vm.timer.armed) {
      ADD_FAILURE() << "the guest idles with no timer armed";
      vm.inputs.request_stop();
      return true;
    }
    vm.timer.fire();
    return false;
  });
}

TEST(Snapshot, TakenMidComputationRestoresToFollowTheRestOfTheLogToTheSameEnd) {
  Vm vm("nondet", /*immediate_fires=*/5);
  const Taken taken = record_nondet_mid_payload(vm);
  ASSERT_EQ(taken.snapshot.guest_state, GuestState::kRunning);
  ASSERT_FALSE(taken.snapshot.nic.queue.empty());

  Replica replica("nondet", taken, vm.log.records);
  const auto result = replica.machine.run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_TRUE(replica.role.stats().complete);  // every output, digest and the end matched
  EXPECT_GT(replica.role.stats().digests, 1u);
  EXPECT_EQ(replica.console, vm.console.substr(taken.console));
  expect_same(vm.machine->snapshot(), replica.machine.snapshot());
}

TEST(Snapshot, TakenWhileTheGuestIdlesRestoresToFollowTheRestOfTheLogToTheSameEnd) {
  Vm vm("timer");
  std::optional<Taken> taken;
  fire_timer_at_idle(vm, [&](Machine& m, int idle) {
    if (idle == 2) taken = vm.take(m);
    return true;
  });
  const auto recorded = vm.machine->run();
  ASSERT_EQ(recorded.outcome, Outcome::kExited) << recorded.report;
  ASSERT_TRUE(taken);
  ASSERT_EQ(taken->snapshot.guest_state, GuestState::kIdle);

  Replica replica("timer", *taken, vm.log.records);
  const auto result = replica.machine.run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_EQ(result.exit_code, 0);
  EXPECT_TRUE(replica.role.stats().complete);
  EXPECT_EQ(replica.console, "tick\ntick\n");
  expect_same(vm.machine->snapshot(), replica.machine.snapshot());
}

// Many points, each through the codec: every 1000th safe point (nondet has some 20000), and
// every first block of an interrupt handler (where inputs are never taken, though the count is
// the interrupted block's).
TEST(Snapshot, EverySampledSafePointRestoresToTheSameEnd) {
  struct Point {
    std::vector<uint8_t> bytes;
    size_t records, console;
  };
  Vm vm("nondet", 5);
  feed_nondet(vm);
  std::vector<Point> points;
  int visits = 0, handler_entries = 0;
  at_each_safe_point(*vm.machine, [&](Machine& m) {
    const MachineSnapshot s = m.snapshot(RamCopy::kNone);
    const bool handler = s.cpu.pc == (s.cpu.csr(hypervisor::Csr::kMtvec) & ~3ULL);
    if (visits++ % 1000 == 0 || handler) {
      points.push_back(
          {hypervisor::encode_snapshot(m.snapshot()), vm.log.records.size(), vm.console.size()});
      handler_entries += handler;
    }
    return false;
  });
  ASSERT_EQ(vm.machine->run().outcome, Outcome::kExited);
  EXPECT_GT(handler_entries, 0);
  EXPECT_GT(points.size() - handler_entries, 5u);
  const MachineSnapshot end = vm.machine->snapshot();
  for (const Point& point : points) {
    const Taken taken{hypervisor::decode_snapshot(point.bytes), point.records, point.console};
    SCOPED_TRACE("snapshot at instruction " + std::to_string(taken.snapshot.icount));
    Replica replica("nondet", taken, vm.log.records);
    const auto result = replica.machine.run();
    ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
    EXPECT_TRUE(replica.role.stats().complete);
    EXPECT_EQ(replica.console, vm.console.substr(taken.console));
    expect_same(end, replica.machine.snapshot());
  }
}

TEST(Snapshot, StoppedComputationRestoresToTheEndOfAnUninterruptedRun) {
  const auto whole = Vm::standalone("crunch");
  ASSERT_EQ(whole->machine->run().outcome, Outcome::kExited);

  const auto first = Vm::standalone("crunch");
  at_each_safe_point(*first->machine, [&](Machine& m) {
    if (m.position().instructions < 3'000'000) return false;
    first->inputs.request_stop();
    return true;
  });
  ASSERT_EQ(first->machine->run().outcome, Outcome::kStopped);
  const MachineSnapshot stopped = first->machine->snapshot();  // between runs
  EXPECT_EQ(stopped.guest_state, GuestState::kRunning);
  EXPECT_GE(stopped.icount, 3'000'000u);

  Vm rest("crunch", stopped, /*record=*/false);
  const auto result = rest.machine->run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_EQ(first->console + rest.console, whole->console);
  expect_same(whole->machine->snapshot(), rest.machine->snapshot());
}

TEST(Snapshot, GuestStoppedWhileIdleIsRestoredIdleAndEndsAsAnUninterruptedRun) {
  const auto whole = Vm::standalone("timer");
  fire_timer_at_idle(*whole, [](Machine&, int) { return true; });
  ASSERT_EQ(whole->machine->run().outcome, Outcome::kExited);

  const auto first = Vm::standalone("timer");
  fire_timer_at_idle(*first, [&](Machine&, int idle) {
    if (idle < 2) return true;
    first->inputs.request_stop();
    return false;
  });
  ASSERT_EQ(first->machine->run().outcome, Outcome::kStopped);
  const MachineSnapshot stopped = first->machine->snapshot();
  ASSERT_EQ(stopped.guest_state, GuestState::kIdle);

  Vm rest("timer", stopped, /*record=*/false);
  rest.clock.wall_ = first->clock.wall_;  // the same continuation of host inputs
  rest.clock.mono_ = first->clock.mono_;
  fire_timer_at_idle(rest, [](Machine&, int) { return true; });
  const auto result = rest.machine->run();
  ASSERT_EQ(result.outcome, Outcome::kExited) << result.report;
  EXPECT_EQ(first->console + rest.console, whole->console);
  expect_same(whole->machine->snapshot(), rest.machine->snapshot());
}

TEST(Snapshot, RestoredMachineSnapshotsExactlyAsTheOriginal) {
  Vm vm("nondet", 5);
  const Taken taken = record_nondet_mid_payload(vm);
  Vm restored("nondet", taken.snapshot);
  expect_same(taken.snapshot, restored.machine->snapshot());
}

TEST(Snapshot, TaskPostedFromAnotherThreadRunsWhileTheGuestIdles) {
  Vm vm("echo");
  std::promise<MachineSnapshot> taken;
  std::thread poster([&] {
    // Echo, given no input, idles for good once it has booted: probe, now and then (a probe
    // holds the guest up at a boundary), until one finds it so.
    for (;;) {
      auto idle = std::make_shared<std::promise<bool>>();
      auto answer = idle->get_future();
      vm.machine->at_next_boundary([idle](Machine& m) { idle->set_value(m.position().idle); });
      // No answer: the machine stopped (the watchdog's doing), and the test fails below.
      if (answer.wait_for(std::chrono::seconds(10)) != std::future_status::ready) return;
      if (answer.get()) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    vm.machine->at_next_boundary([&](Machine& m) {
      taken.set_value(m.snapshot(RamCopy::kNone));
      vm.inputs.request_stop();
    });
  });
  auto future = taken.get_future();
  std::thread watchdog([&] {
    if (future.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
      vm.inputs.request_stop();
    }
  });
  const auto result = vm.machine->run();
  poster.join();
  watchdog.join();
  EXPECT_EQ(result.outcome, Outcome::kStopped);
  ASSERT_EQ(future.wait_for(std::chrono::seconds(0)), std::future_status::ready)
      << "the idle vCPU never ran the task";
  EXPECT_EQ(future.get().guest_state, GuestState::kIdle);
}

// The console sink runs inside the guest's console hypercall, in the middle of a block.
TEST(Snapshot, IsRefusedOutsideASafePoint) {
  hypervisor::InputQueue inputs;
  SteppingClock clock;
  FixedEntropy entropy(0);
  TestTimer timer(inputs, 0);
  RecordingNet net;
  hypervisor::LiveRole role({clock, entropy, timer, net}, inputs, nullptr);
  std::unique_ptr<Machine> machine;
  int writes = 0, refused = 0;
  const auto try_snapshot = [&](std::span<const uint8_t>) {
    ++writes;
    try {
      machine->snapshot();
    } catch (const std::logic_error&) {
      ++refused;
    }
  };
  machine = std::make_unique<Machine>(test_guest("counters"),
                                      hypervisor::MachineConfig{kRam, try_snapshot}, role);
  ASSERT_EQ(machine->run().outcome, Outcome::kExited);
  EXPECT_GT(writes, 0);
  EXPECT_EQ(refused, writes);
}

TEST(Snapshot, RestoreRefusesAnotherGuestImage) {
  Vm vm("count");
  const MachineSnapshot s = vm.machine->snapshot();
  try {
    Vm other("crunch", 0, kRam, &s);
    FAIL() << "restored a snapshot of count.elf into crunch.elf";
  } catch (const SnapshotError& e) {
    EXPECT_NE(std::string(e.what()).find("another guest image"), std::string::npos) << e.what();
  }
}

TEST(Snapshot, RestoreRefusesAnotherRamSize) {
  Vm vm("count");
  const MachineSnapshot s = vm.machine->snapshot();
  try {
    Vm other("count", 0, 2 * kRam, &s);
    FAIL() << "restored 16 MiB into 32 MiB";
  } catch (const SnapshotError& e) {
    EXPECT_NE(std::string(e.what()).find("bytes of RAM"), std::string::npos) << e.what();
  }
}

TEST(Snapshot, RestoreRefusesASnapshotWithoutRam) {
  Vm vm("count");
  const MachineSnapshot s = vm.machine->snapshot(RamCopy::kNone);
  EXPECT_THROW(Vm("count", s), SnapshotError);
}

// ---- the encoding ----

MachineSnapshot every_field_set() {
  MachineSnapshot s;
  s.image_digest = 0x0123456789abcdefULL;
  s.ram_base = VMFT_RAM_BASE;
  s.ram_size = 64 * 1024 + 1000;  // a short last page
  s.digest_interval = 5000;
  s.icount = 987654321;
  s.guest_state = GuestState::kIdle;
  s.exit_code = -3;
  s.cpu.pc = VMFT_RAM_BASE + 0x124;
  for (size_t i = 1; i < 32; ++i) s.cpu.x[i] = i * 0x1111111111ULL;
  for (size_t i = 0; i < 32; ++i) s.cpu.f[i] = ~i;
  for (size_t i = 0; i < hypervisor::kCsrCount; ++i) s.cpu.csrs[i] = 0x100 + i;
  s.boundary_work = false;
  s.next_digest_icount = 990000000;
  s.last_interrupt_icount = 987654000;
  s.last_clock = {5, std::nullopt, 7, std::nullopt};
  s.highest_connection = 11;
  s.timer = {123456789, 42, true};
  s.nic.queue = {event(VMFT_NIC_KIND_TCP_DATA, 3, std::string(5000, 'a')),
                 event(VMFT_NIC_KIND_UDP, 0, "datagram"), event(VMFT_NIC_KIND_TCP_OPEN, 9, ""),
                 event(VMFT_NIC_KIND_FRAME, 0, "an ethernet frame")};
  s.nic.front_offset = 4096;
  s.nic.open_conns = {3, 8};
  s.nic.rings = {VMFT_RAM_BASE + 0x8000, VMFT_RAM_BASE + 0x9000, VMFT_RAM_BASE + 0xa000, 16, 64};
  s.nic.rx_posted = 20, s.nic.rx_filled = 17, s.nic.tx_done = 0xfffffffe;
  s.nic.interrupt = true;
  s.nic.error = VMFT_NIC_ERR_RINGS;
  s.mmio = {{8, 0xaa, UINT64_MAX, 0}, {UINT64_MAX, 0, 0x10, 0xbb}, {}, {}, {}};
  s.ram.assign(s.ram_size, 0);
  s.ram[0] = 1;
  s.ram[5 * 4096 + 17] = 2;
  s.ram.back() = 3;
  return s;
}

TEST(SnapshotCodec, RoundTripsEveryField) {
  const MachineSnapshot s = every_field_set();
  expect_same(hypervisor::decode_snapshot(hypervisor::encode_snapshot(s)), s);
}

TEST(SnapshotCodec, RoundTripsARunningGuestsSnapshot) {
  Vm vm("nondet", 5);
  const Taken taken = record_nondet_mid_payload(vm);
  expect_same(hypervisor::decode_snapshot(hypervisor::encode_snapshot(taken.snapshot)),
              taken.snapshot);
}

TEST(SnapshotCodec, RoundTripsASnapshotWithoutRam) {
  MachineSnapshot s = every_field_set();
  s.ram.clear();
  expect_same(hypervisor::decode_snapshot(hypervisor::encode_snapshot(s)), s);
}

TEST(SnapshotCodec, LeavesOutAllZeroPages) {
  Vm vm("count");
  const auto bytes = hypervisor::encode_snapshot(vm.machine->snapshot());
  EXPECT_LT(bytes.size(), 256u * 1024) << "16 MiB of RAM, nearly all zero";
}

std::string decode_error(std::span<const uint8_t> bytes) {
  try {
    hypervisor::decode_snapshot(bytes);
  } catch (const SnapshotError& e) {
    return e.what();
  }
  return "";
}

TEST(SnapshotCodec, RejectsEveryTruncation) {
  const auto bytes = hypervisor::encode_snapshot(every_field_set());
  for (size_t len = 0; len < bytes.size(); ++len) {
    const std::string error = decode_error(std::span(bytes).first(len));
    ASSERT_NE(error.find("truncated"), std::string::npos) << len << " bytes: " << error;
  }
}

TEST(SnapshotCodec, RejectsEveryFlippedByte) {
  const auto bytes = hypervisor::encode_snapshot(every_field_set());
  for (size_t at = 0; at < bytes.size(); ++at) {
    auto corrupt = bytes;
    corrupt[at] ^= 0x10;
    ASSERT_NE(decode_error(corrupt), "") << "byte " << at << " flipped went unnoticed";
  }
}

TEST(SnapshotCodec, RejectsTrailingBytes) {
  auto bytes = hypervisor::encode_snapshot(every_field_set());
  bytes.push_back(0);
  EXPECT_NE(decode_error(bytes).find("after its end"), std::string::npos) << decode_error(bytes);
}

TEST(SnapshotCodec, RejectsAnotherVersion) {
  auto bytes = hypervisor::encode_snapshot(every_field_set());
  bytes[8] = static_cast<uint8_t>(hypervisor::kSnapshotFormatVersion + 1);
  const std::string expected =
      "version " + std::to_string(hypervisor::kSnapshotFormatVersion + 1) + " is not supported";
  EXPECT_NE(decode_error(bytes).find(expected), std::string::npos)
      << decode_error(bytes);
}

TEST(SnapshotCodec, RejectsAnInconsistentFieldUnderAValidChecksum) {
  MachineSnapshot s = every_field_set();
  s.nic.front_offset = s.nic.queue.front().data.size() + 1;
  const auto bytes = hypervisor::encode_snapshot(s);
  EXPECT_NE(decode_error(bytes).find("front offset"), std::string::npos) << decode_error(bytes);
}

TEST(SnapshotCodec, RejectsAnUnknownGuestState) {
  MachineSnapshot s = every_field_set();
  s.guest_state = static_cast<GuestState>(9);
  const auto bytes = hypervisor::encode_snapshot(s);
  EXPECT_NE(decode_error(bytes).find("unknown guest state 9"), std::string::npos)
      << decode_error(bytes);
}

// ---- cost ----

double ms_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// Prints the figures; no timing is asserted. Every page is made dirty first: the worst case.
TEST(SnapshotCost, TakingAndRestoringA64MiBGuest) {
  constexpr uint64_t k64MiB = 64ULL << 20;
  auto start = std::chrono::steady_clock::now();
  Vm vm("count", 0, k64MiB);
  const double boot = ms_since(start);  // the baseline: a fresh machine
  ASSERT_EQ(vm.machine->run().outcome, Outcome::kExited);
  start = std::chrono::steady_clock::now();
  MachineSnapshot s = vm.machine->snapshot();
  const double take_clean = ms_since(start);

  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (size_t i = 0; i + 8 <= s.ram.size(); i += 8) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    std::memcpy(s.ram.data() + i, &x, 8);
  }
  start = std::chrono::steady_clock::now();
  Vm restored("count", s);
  const double restore = ms_since(start);
  start = std::chrono::steady_clock::now();
  const MachineSnapshot again = restored.machine->snapshot();
  const double take_dirty = ms_since(start);
  start = std::chrono::steady_clock::now();
  const auto bytes = hypervisor::encode_snapshot(again);
  const double encode = ms_since(start);
  start = std::chrono::steady_clock::now();
  const MachineSnapshot decoded = hypervisor::decode_snapshot(bytes);
  const double decode = ms_since(start);
  start = std::chrono::steady_clock::now();
  const auto hashes = hypervisor::ram_page_hashes(restored.machine->ram());
  const double hash = ms_since(start);

  EXPECT_TRUE(again == s);
  EXPECT_TRUE(decoded == s);
  EXPECT_EQ(hashes.size(), k64MiB / hypervisor::kSnapshotPageBytes);
  std::printf(
      "64 MiB guest: boot a fresh machine %.1f ms; take %.1f ms (mostly zero RAM), %.1f ms "
      "(every page dirty); restore %.1f ms (%.1fx a boot); encode %.1f ms, decode %.1f ms "
      "(%.1f MiB); page hashes %.1f ms\n",
      boot, take_clean, take_dirty, restore, restore / boot, encode, decode,
      static_cast<double>(bytes.size()) / (1 << 20), hash);
}

}  // namespace
}  // namespace vmft::testing
