// The snapshot's encoding: the one place that knows its bytes. Bump kSnapshotFormatVersion
// (Snapshot.h) on any change.
//
//   magic "VMFTSNAP" | version u32 | body length u64 | body | XXH3-64 of all that came before
//
// Integers are little-endian. The body holds the fields in MachineSnapshot's order; RAM comes
// last, as (page index u64, 4096 bytes) for every page that is not all zero.
#include "vmft/hypervisor/Snapshot.h"

#include <fmt/format.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "vmft/guest/abi.h"
#include "vmft/logchannel/RecordCodec.h"

namespace vmft::hypervisor {

namespace {

constexpr std::array<uint8_t, 8> kMagic = {'V', 'M', 'F', 'T', 'S', 'N', 'A', 'P'};
constexpr size_t kHeaderBytes = kMagic.size() + 4 + 8;
constexpr size_t kChecksumBytes = 8;
// The smallest encoded NetEvent: kind, conn, peer ip, peer port, data length.
constexpr size_t kMinEventBytes = 5 * 4;
// Bounds what a corrupt count can make the decoder reserve before it runs out of bytes.
constexpr size_t kMaxMmioWindows = 64;

constexpr const char* kCsrNames[kCsrCount] = {
    "mstatus",  "mie",     "mip",      "mtvec",      "mepc", "mcause", "mtval",
    "mscratch", "medeleg", "mideleg",  "mcounteren", "satp", "stvec",  "sepc",
    "scause",   "stval",   "sscratch", "scounteren", "fcsr"};

class Writer {
 public:
  explicit Writer(std::vector<uint8_t>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(v); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void bytes(std::span<const uint8_t> b) { out_.insert(out_.end(), b.begin(), b.end()); }
  void zeros(size_t n) { out_.resize(out_.size() + n, 0); }
  void reserve_more(size_t n) { out_.reserve(out_.size() + n); }

 private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<uint8_t>(v >> (8 * i)));
  }
  std::vector<uint8_t>& out_;
};

// Reads the body, never past its end; every failure names the byte offset in the snapshot.
class Reader {
 public:
  Reader(std::span<const uint8_t> bytes, size_t pos) : bytes_(bytes), pos_(pos) {}

  uint8_t u8(const char* what) { return static_cast<uint8_t>(get(1, what)); }
  uint32_t u32(const char* what) { return static_cast<uint32_t>(get(4, what)); }
  uint64_t u64(const char* what) { return get(8, what); }
  bool boolean(const char* what) {
    const size_t at = pos_;
    const uint8_t v = u8(what);
    if (v > 1) fail(at, fmt::format("{} is {}, not 0 or 1", what, v));
    return v == 1;
  }
  std::span<const uint8_t> bytes(uint64_t n, const std::string& what) {
    need(n, what);
    const auto out = bytes_.subspan(pos_, n);
    pos_ += n;
    return out;
  }
  size_t position() const { return pos_; }
  size_t remaining() const { return bytes_.size() - pos_; }

  [[noreturn]] void fail(size_t at, const std::string& what) const {
    throw SnapshotError(fmt::format("snapshot corrupt at byte {}: {}", at, what));
  }

 private:
  void need(uint64_t n, const std::string& what) const {
    if (n > remaining()) {
      fail(pos_, fmt::format("{} ({} bytes) runs past the end of the body", what, n));
    }
  }
  uint64_t get(int n, const char* what) {
    need(n, what);
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(bytes_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }

  std::span<const uint8_t> bytes_;
  size_t pos_;
};

bool all_zero(std::span<const uint8_t> bytes) {
  static const std::array<uint8_t, kSnapshotPageBytes> kZero{};
  return std::memcmp(bytes.data(), kZero.data(), bytes.size()) == 0;
}

// The page of `ram` at `offset`: kSnapshotPageBytes, or fewer at the end of RAM.
std::span<const uint8_t> page_at(std::span<const uint8_t> ram, uint64_t offset) {
  return ram.subspan(offset, std::min<uint64_t>(kSnapshotPageBytes, ram.size() - offset));
}

uint64_t checksum(std::span<const uint8_t> bytes) {
  return XXH3_64bits(bytes.data(), bytes.size());
}

// ---- encoding ----

void encode_cpu(Writer& w, const CpuState& cpu) {
  w.u64(cpu.pc);
  for (uint64_t v : cpu.x) w.u64(v);
  for (uint64_t v : cpu.f) w.u64(v);
  w.u8(kCsrCount);
  for (uint64_t v : cpu.csrs) w.u64(v);
}

void encode_nic(Writer& w, const devices::NicState& nic) {
  w.u8(nic.interrupt);
  w.u32(nic.error);
  for (uint64_t v : {nic.rings.header, nic.rings.rx_desc, nic.rings.tx_desc}) w.u64(v);
  w.u32(nic.rings.rx_size);
  w.u32(nic.rings.tx_size);
  for (uint32_t v : {nic.rx_posted, nic.rx_filled, nic.tx_done}) w.u32(v);
  w.u64(nic.front_offset);
  w.u32(static_cast<uint32_t>(nic.open_conns.size()));
  for (uint32_t conn : nic.open_conns) w.u32(conn);
  w.u32(static_cast<uint32_t>(nic.queue.size()));
  for (const devices::NetEvent& ev : nic.queue) {
    w.u32(ev.kind);
    w.u32(ev.conn);
    w.u32(ev.peer_ip);
    w.u32(ev.peer_port);
    w.u32(static_cast<uint32_t>(ev.data.size()));
    w.bytes(ev.data);
  }
}

void encode_ram(Writer& w, const MachineSnapshot& s) {
  w.u32(kSnapshotPageBytes);
  w.u8(!s.ram.empty());
  const std::span<const uint8_t> ram(s.ram);
  std::vector<uint64_t> pages;
  for (uint64_t offset = 0; offset < ram.size(); offset += kSnapshotPageBytes) {
    if (!all_zero(page_at(ram, offset))) pages.push_back(offset);
  }
  w.u64(pages.size());
  w.reserve_more(pages.size() * (8 + kSnapshotPageBytes) + kChecksumBytes);
  for (uint64_t offset : pages) {
    w.u64(offset / kSnapshotPageBytes);
    const auto bytes = page_at(ram, offset);
    w.bytes(bytes);
    w.zeros(kSnapshotPageBytes - bytes.size());  // a short last page is padded
  }
}

void encode_body(Writer& w, const MachineSnapshot& s) {
  for (uint64_t v : {s.image_digest, s.ram_base, s.ram_size, s.digest_interval, s.icount}) w.u64(v);
  w.u8(static_cast<uint8_t>(s.guest_state));
  w.u32(static_cast<uint32_t>(s.exit_code));
  encode_cpu(w, s.cpu);
  w.u8(s.boundary_work);
  w.u64(s.next_digest_icount);
  w.u64(s.last_interrupt_icount);
  for (const auto& clock : s.last_clock) {
    w.u8(clock.has_value());
    w.u64(clock.value_or(0));
  }
  w.u32(s.highest_connection);
  w.u64(s.timer.compare);
  w.u64(s.timer.generation);
  w.u8(s.timer.pending);
  encode_nic(w, s.nic);
  w.u8(static_cast<uint8_t>(s.mmio.size()));
  for (const MmioLatch& l : s.mmio) {
    for (uint64_t v : {l.read_reg, l.read_value, l.write_reg, l.write_low}) w.u64(v);
  }
  encode_ram(w, s);
}

// ---- decoding ----

void decode_cpu(Reader& r, CpuState& cpu) {
  cpu.pc = r.u64("pc");
  const size_t x0_at = r.position();
  for (uint64_t& v : cpu.x) v = r.u64("x register");
  if (cpu.x[0] != 0) r.fail(x0_at, "x0 is not zero");
  for (uint64_t& v : cpu.f) v = r.u64("f register");
  const size_t at = r.position();
  if (const uint8_t count = r.u8("CSR count"); count != kCsrCount) {
    r.fail(at, fmt::format("{} CSRs, this version has {}", count, kCsrCount));
  }
  for (uint64_t& v : cpu.csrs) v = r.u64("CSR");
}

devices::NetEvent decode_event(Reader& r, size_t index) {
  const size_t at = r.position();
  devices::NetEvent ev;
  ev.kind = r.u32("event kind");
  if (!logchannel::is_net_kind(ev.kind)) {
    r.fail(at, fmt::format("NIC event #{} has unknown kind {}", index, ev.kind));
  }
  ev.conn = r.u32("event connection");
  ev.peer_ip = r.u32("event peer address");
  ev.peer_port = r.u32("event peer port");
  const size_t len_at = r.position();
  const uint32_t len = r.u32("event length");
  if (len > logchannel::kMaxPayloadBytes) {
    r.fail(len_at, fmt::format("NIC event #{} has {} bytes, more than the limit of {}", index, len,
                               logchannel::kMaxPayloadBytes));
  }
  const auto data = r.bytes(len, fmt::format("NIC event #{}'s data", index));
  ev.data.assign(data.begin(), data.end());
  return ev;
}

void decode_nic(Reader& r, devices::NicState& nic) {
  nic.interrupt = r.boolean("NIC interrupt");
  nic.error = r.u32("NIC error");
  for (uint64_t* v : {&nic.rings.header, &nic.rings.rx_desc, &nic.rings.tx_desc}) {
    *v = r.u64("NIC ring address");
  }
  nic.rings.rx_size = r.u32("NIC rx ring size");
  nic.rings.tx_size = r.u32("NIC tx ring size");
  nic.rx_posted = r.u32("NIC rx_posted");
  nic.rx_filled = r.u32("NIC rx_filled");
  nic.tx_done = r.u32("NIC tx_done");
  const size_t offset_at = r.position();
  nic.front_offset = r.u64("NIC front offset");
  const size_t conns_at = r.position();
  const uint32_t conns = r.u32("open connection count");
  if (conns > r.remaining() / 4) r.fail(conns_at, fmt::format("{} open connections", conns));
  for (uint32_t i = 0; i < conns; ++i) {
    const size_t at = r.position();
    const uint32_t conn = r.u32("open connection");
    if (!nic.open_conns.empty() && conn <= nic.open_conns.back()) {
      r.fail(at, "open connections are not in ascending order");
    }
    nic.open_conns.push_back(conn);
  }
  const size_t queue_at = r.position();
  const uint32_t events = r.u32("NIC queue length");
  if (events > r.remaining() / kMinEventBytes) {
    r.fail(queue_at, fmt::format("{} queued NIC events", events));
  }
  nic.queue.reserve(events);
  for (uint32_t i = 0; i < events; ++i) nic.queue.push_back(decode_event(r, i));
  const uint64_t front_size = nic.queue.empty() ? 0 : nic.queue.front().data.size();
  if (nic.front_offset > front_size || (nic.queue.empty() && nic.front_offset != 0)) {
    r.fail(offset_at, fmt::format("NIC front offset {} lies beyond the first event's {} bytes",
                                  nic.front_offset, front_size));
  }
}

void decode_ram(Reader& r, MachineSnapshot& s) {
  const size_t at = r.position();
  if (const uint32_t page = r.u32("page size"); page != kSnapshotPageBytes) {
    r.fail(at, fmt::format("page size {}, expected {}", page, kSnapshotPageBytes));
  }
  const bool has_ram = r.boolean("RAM flag");
  const uint64_t page_count = (s.ram_size + kSnapshotPageBytes - 1) / kSnapshotPageBytes;
  const size_t count_at = r.position();
  const uint64_t pages = r.u64("RAM page count");
  if (pages > page_count || (!has_ram && pages != 0) ||
      pages > r.remaining() / (8 + kSnapshotPageBytes)) {
    r.fail(count_at, fmt::format("{} RAM pages for {} bytes of RAM", pages, s.ram_size));
  }
  if (has_ram) s.ram.assign(s.ram_size, 0);
  uint64_t next = 0;  // pages come in ascending order
  for (uint64_t i = 0; i < pages; ++i) {
    const size_t index_at = r.position();
    const uint64_t index = r.u64("RAM page index");
    if (index < next || index >= page_count) {
      r.fail(index_at, fmt::format("RAM page index {} out of order or beyond RAM", index));
    }
    next = index + 1;
    const uint64_t offset = index * kSnapshotPageBytes;
    const uint64_t len = std::min(kSnapshotPageBytes, s.ram_size - offset);
    const auto bytes = r.bytes(kSnapshotPageBytes, fmt::format("RAM page {}", index));
    std::memcpy(s.ram.data() + offset, bytes.data(), len);
  }
}

void decode_identity(Reader& r, MachineSnapshot& s) {
  s.image_digest = r.u64("image digest");
  s.ram_base = r.u64("RAM base");
  const size_t size_at = r.position();
  s.ram_size = r.u64("RAM size");
  if (s.ram_size == 0 || s.ram_size > kMaxSnapshotRamBytes) {
    r.fail(size_at,
           fmt::format("RAM size {} is not between 1 and {}", s.ram_size, kMaxSnapshotRamBytes));
  }
  const size_t interval_at = r.position();
  s.digest_interval = r.u64("digest interval");
  if (s.digest_interval == 0) r.fail(interval_at, "digest interval 0");
}

void decode_body(Reader& r, MachineSnapshot& s) {
  decode_identity(r, s);
  s.icount = r.u64("instruction count");
  const size_t state_at = r.position();
  const uint8_t state = r.u8("guest state");
  if (state < static_cast<uint8_t>(GuestState::kRunning) ||
      state > static_cast<uint8_t>(GuestState::kExited)) {
    r.fail(state_at, fmt::format("unknown guest state {}", state));
  }
  s.guest_state = static_cast<GuestState>(state);
  s.exit_code = static_cast<int32_t>(r.u32("exit code"));
  decode_cpu(r, s.cpu);
  s.boundary_work = r.boolean("boundary work flag");
  s.next_digest_icount = r.u64("next digest");
  s.last_interrupt_icount = r.u64("last interrupt");
  for (auto& clock : s.last_clock) {
    const bool present = r.boolean("clock flag");
    const uint64_t value = r.u64("last clock value");
    if (present) clock = value;
  }
  s.highest_connection = r.u32("highest connection");
  s.timer.compare = r.u64("timer compare");
  s.timer.generation = r.u64("timer generation");
  s.timer.pending = r.boolean("timer pending");
  decode_nic(r, s.nic);
  const size_t mmio_at = r.position();
  const uint8_t windows = r.u8("MMIO window count");
  if (windows > kMaxMmioWindows) r.fail(mmio_at, fmt::format("{} MMIO windows", windows));
  s.mmio.resize(windows);
  for (MmioLatch& l : s.mmio) {
    for (uint64_t* v : {&l.read_reg, &l.read_value, &l.write_reg, &l.write_low}) {
      *v = r.u64("MMIO latch");
    }
  }
  decode_ram(r, s);
}

}  // namespace

const char* csr_name(Csr csr) { return kCsrNames[static_cast<size_t>(csr)]; }

std::vector<uint8_t> encode_snapshot(const MachineSnapshot& snapshot) {
  if (!snapshot.ram.empty() && snapshot.ram.size() != snapshot.ram_size) {
    throw SnapshotError(
        fmt::format("cannot encode a snapshot with {} bytes of RAM for a RAM size of {}",
                    snapshot.ram.size(), snapshot.ram_size));
  }
  std::vector<uint8_t> out;
  out.reserve(kHeaderBytes + 4096);
  Writer w(out);
  w.bytes(kMagic);
  w.u32(kSnapshotFormatVersion);
  w.u64(0);  // the body's length, filled in below
  encode_body(w, snapshot);
  const uint64_t body = out.size() - kHeaderBytes;
  for (int i = 0; i < 8; ++i) out[kMagic.size() + 4 + i] = static_cast<uint8_t>(body >> (8 * i));
  w.u64(checksum(out));
  return out;
}

MachineSnapshot decode_snapshot(std::span<const uint8_t> bytes) {
  const size_t magic = std::min(bytes.size(), kMagic.size());
  if (!std::equal(bytes.begin(), bytes.begin() + magic, kMagic.begin())) {
    throw SnapshotError("not a vmft snapshot (its first bytes are not the snapshot magic)");
  }
  if (bytes.size() < kHeaderBytes) {
    throw SnapshotError(fmt::format("snapshot truncated: {} bytes, shorter than its {}-byte header",
                                    bytes.size(), kHeaderBytes));
  }
  Reader header(bytes, kMagic.size());
  const uint32_t version = header.u32("version");
  if (version != kSnapshotFormatVersion) {
    throw SnapshotError(
        fmt::format("snapshot format version {} is not supported (this vmft reads version {})",
                    version, kSnapshotFormatVersion));
  }
  const uint64_t body = header.u64("body length");
  if (body > bytes.size() - kHeaderBytes || bytes.size() - kHeaderBytes - body < kChecksumBytes) {
    throw SnapshotError(fmt::format("snapshot truncated: {} bytes, its header says {}",
                                    bytes.size(), kHeaderBytes + body + kChecksumBytes));
  }
  const size_t end = kHeaderBytes + body;
  if (bytes.size() > end + kChecksumBytes) {
    throw SnapshotError(fmt::format("snapshot corrupt: {} bytes after its end at byte {}",
                                    bytes.size() - end - kChecksumBytes, end + kChecksumBytes));
  }
  const uint64_t stored = Reader(bytes, end).u64("checksum");
  const uint64_t computed = checksum(bytes.first(end));
  if (stored != computed) {
    throw SnapshotError(fmt::format(
        "snapshot corrupt: checksum {:#018x} at byte {} does not match its content ({:#018x})",
        stored, end, computed));
  }
  MachineSnapshot s;
  Reader r(bytes.first(end), kHeaderBytes);
  decode_body(r, s);
  if (r.remaining() != 0) r.fail(r.position(), fmt::format("{} unused bytes", r.remaining()));
  return s;
}

std::vector<uint64_t> ram_page_hashes(std::span<const uint8_t> ram) {
  std::vector<uint64_t> hashes;
  hashes.reserve((ram.size() + kSnapshotPageBytes - 1) / kSnapshotPageBytes);
  for (uint64_t offset = 0; offset < ram.size(); offset += kSnapshotPageBytes) {
    hashes.push_back(checksum(page_at(ram, offset)));
  }
  return hashes;
}

}  // namespace vmft::hypervisor
