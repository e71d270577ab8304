// describe_snapshot_difference: what differs between two snapshots, for test failures and
// divergence reports.
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

#include "vmft/hypervisor/Snapshot.h"

namespace vmft::hypervisor {

namespace {

// RAM pages listed by address; more are only counted.
constexpr size_t kListedPages = 8;

class Differences {
 public:
  template <typename T>
  void field(const std::string& name, const T& a, const T& b) {
    if (a != b) out_ += fmt::format("{}: {} vs {}\n", name, a, b);
  }
  void hex(const std::string& name, uint64_t a, uint64_t b) {
    if (a != b) out_ += fmt::format("{}: {:#x} vs {:#x}\n", name, a, b);
  }
  void line(const std::string& text) { out_ += text + "\n"; }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

std::string clock_text(const std::optional<uint64_t>& v) {
  return v ? std::to_string(*v) : std::string("none");
}

void compare_cpu(Differences& d, const CpuState& a, const CpuState& b) {
  d.hex("pc", a.pc, b.pc);
  for (size_t i = 0; i < a.x.size(); ++i) d.hex(fmt::format("x{}", i), a.x[i], b.x[i]);
  for (size_t i = 0; i < a.f.size(); ++i) d.hex(fmt::format("f{}", i), a.f[i], b.f[i]);
  for (size_t i = 0; i < kCsrCount; ++i) {
    d.hex(csr_name(static_cast<Csr>(i)), a.csrs[i], b.csrs[i]);
  }
}

void compare_devices(Differences& d, const MachineSnapshot& a, const MachineSnapshot& b) {
  d.hex("timer compare", a.timer.compare, b.timer.compare);
  d.field("timer generation", a.timer.generation, b.timer.generation);
  d.field("timer pending", a.timer.pending, b.timer.pending);
  const devices::NicState& n = a.nic;
  const devices::NicState& m = b.nic;
  d.field("NIC queued events", n.queue.size(), m.queue.size());
  if (n.queue.size() == m.queue.size() && n.queue != m.queue) d.line("NIC queued events differ");
  d.field("NIC front offset", n.front_offset, m.front_offset);
  d.field("NIC open connections", fmt::format("{}", fmt::join(n.open_conns, ",")),
          fmt::format("{}", fmt::join(m.open_conns, ",")));
  d.field("NIC rx_posted", n.rx_posted, m.rx_posted);
  d.field("NIC rx_filled", n.rx_filled, m.rx_filled);
  d.field("NIC tx_done", n.tx_done, m.tx_done);
  d.field("NIC interrupt", n.interrupt, m.interrupt);
  d.field("NIC error", n.error, m.error);
  if (n.rings != m.rings) {
    d.line(fmt::format("NIC rings differ: header {:#x} rx {:#x}x{} tx {:#x}x{}, against {:#x} rx "
                       "{:#x}x{} tx {:#x}x{}",
                       n.rings.header, n.rings.rx_desc, n.rings.rx_size, n.rings.tx_desc,
                       n.rings.tx_size, m.rings.header, m.rings.rx_desc, m.rings.rx_size,
                       m.rings.tx_desc, m.rings.tx_size));
  }
  if (a.mmio != b.mmio) d.line("MMIO latches differ");
}

void compare_ram(Differences& d, const MachineSnapshot& a, const MachineSnapshot& b) {
  if (a.ram.size() != b.ram.size()) {
    d.field("RAM bytes", a.ram.size(), b.ram.size());
    return;
  }
  size_t differing = 0;
  std::vector<std::string> listed;
  for (uint64_t offset = 0; offset < a.ram.size(); offset += kSnapshotPageBytes) {
    const uint64_t len = std::min<uint64_t>(kSnapshotPageBytes, a.ram.size() - offset);
    if (std::equal(a.ram.begin() + offset, a.ram.begin() + offset + len, b.ram.begin() + offset)) {
      continue;
    }
    if (differing++ < kListedPages) listed.push_back(fmt::format("{:#x}", a.ram_base + offset));
  }
  if (differing > 0) {
    d.line(fmt::format("RAM differs in {} pages, at {}{}", differing, fmt::join(listed, ", "),
                       differing > kListedPages ? ", ..." : ""));
  }
}

}  // namespace

std::string describe_snapshot_difference(const MachineSnapshot& a, const MachineSnapshot& b) {
  Differences d;
  d.hex("image digest", a.image_digest, b.image_digest);
  d.hex("RAM base", a.ram_base, b.ram_base);
  d.field("RAM size", a.ram_size, b.ram_size);
  d.field("digest interval", a.digest_interval, b.digest_interval);
  d.field("instruction count", a.icount, b.icount);
  d.field("guest state", static_cast<int>(a.guest_state), static_cast<int>(b.guest_state));
  d.field("exit code", a.exit_code, b.exit_code);
  compare_cpu(d, a.cpu, b.cpu);
  d.field("boundary work", a.boundary_work, b.boundary_work);
  d.field("next digest", a.next_digest_icount, b.next_digest_icount);
  d.field("last interrupt", a.last_interrupt_icount, b.last_interrupt_icount);
  for (size_t i = 0; i < a.last_clock.size(); ++i) {
    d.field(fmt::format("last clock {}", i + 1), clock_text(a.last_clock[i]),
            clock_text(b.last_clock[i]));
  }
  d.field("highest connection", a.highest_connection, b.highest_connection);
  compare_devices(d, a, b);
  compare_ram(d, a, b);
  return d.take();
}

}  // namespace vmft::hypervisor
