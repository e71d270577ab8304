#pragma once
// Records for the log tests: one of each type, realistic idle ticks, random records, and a
// field-by-field comparison (the record types have no operator==).

#include <gtest/gtest.h>

#include <random>
#include <tuple>
#include <vector>

#include "vmft/guest/abi.h"
#include "vmft/logchannel/Record.h"

namespace vmft::logchannel::testing {

inline auto fields(const ClockRead& c) { return std::tie(c.source, c.value); }
inline auto fields(const EntropyRead& e) { return std::tie(e.value); }
inline auto fields(const TimerFired& t) { return std::tie(t.generation); }
inline auto fields(const NetInput& n) {
  return std::tie(n.kind, n.conn, n.peer_ip, n.peer_port, n.data);
}
inline auto fields(const InterruptTaken& i) { return std::tie(i.cause, i.pc); }
inline auto fields(const Output& o) {
  return std::tie(o.kind, o.conn, o.peer_ip, o.peer_port, o.data);
}
inline auto fields(const StateDigest& d) {
  return std::tie(d.regs, d.csrs, d.devices, d.ram_chunks);
}
inline auto fields(const RunEnd& e) { return std::tie(e.reason, e.exit_code); }

inline ::testing::AssertionResult SameRecord(const Record& a, const Record& b) {
  const bool same = a.seq == b.seq && a.icount == b.icount && a.body.index() == b.body.index() &&
                    std::visit(
                        [&](const auto& x) {
                          using Body = std::decay_t<decltype(x)>;
                          return fields(x) == fields(std::get<Body>(b.body));
                        },
                        a.body);
  if (same) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << describe(a) << "\n  differs from\n" << describe(b);
}

inline std::vector<uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

inline StateDigest sample_digest() {
  StateDigest d;
  for (size_t i = 0; i < d.regs.size(); ++i) d.regs[i] = 0x80000000 + i * 0x1111;
  d.csrs = {0x1888, 0x880, 0x80000010, 0x80000124, 0x8000000000000007, 0};
  d.devices = 0xfeedface12345678;
  d.ram_chunks = {1, 2, 3, 0xffffffffffffffff, 5};
  return d;
}

/// One record of every type, numbered from 1.
inline std::vector<Record> one_of_each() {
  const RecordBody bodies[] = {
      ClockRead{ClockSource::kMono, 1234567},
      EntropyRead{0x0123456789abcdef},
      TimerFired{1},
      NetInput{VMFT_NIC_KIND_TCP_DATA, 3, 0x7f000001, 5555, bytes_of("INCR hits\r\n")},
      InterruptTaken{VMFT_IRQ_NIC, 0x80000124},
      Output{OutputKind::kUdp, 0, 0x7f000001, 6380, bytes_of("+PONG\r\n")},
      sample_digest(),
      RunEnd{RunEnd::Reason::kExited, 0},
  };
  std::vector<Record> records;
  uint64_t icount = 4000;
  for (const auto& body : bodies) {
    records.push_back({records.size() + 1, icount, body});
    icount += 250;
  }
  return records;
}

/// An idle guest's 100 Hz tick: the timer fires, the guest takes the interrupt in its idle
/// loop, and the handler reads the monotonic clock to re-arm the timer.
class IdleTicks {
 public:
  explicit IdleTicks(uint64_t seed) : rng_(seed) {}

  void append_tick(std::vector<Record>& out) {
    icount_ += 4900 + rng_() % 200;
    out.push_back({++seq_, icount_, TimerFired{++generation_}});
    out.push_back({++seq_, icount_, InterruptTaken{VMFT_IRQ_TIMER, 0x80000100 + rng_() % 16 * 4}});
    icount_ += 20 + rng_() % 80;
    mono_ += 10'000'000 + rng_() % 50'000;  // 10 ms and the host's jitter
    out.push_back({++seq_, icount_, ClockRead{ClockSource::kMono, mono_}});
  }

 private:
  std::mt19937_64 rng_;
  uint64_t seq_ = 0;
  uint64_t icount_ = 1'000'000;
  uint64_t generation_ = 0;
  uint64_t mono_ = 3'600'000'000'000;  // an hour into the run: absolute values are large
};

}  // namespace vmft::logchannel::testing
