// The machine's side of snapshots: taking one at a safe point, restoring one into a fresh
// machine, and the boundary tasks through which a role's owner gets to a safe point while the
// guest runs.
#include <fmt/format.h>
#include <xxhash.h>

#include <cstring>
#include <memory>
#include <stdexcept>

#include "MachineImpl.h"

namespace vmft::hypervisor {

namespace {

// Unicorn's register for each CpuState::csrs entry, in Csr order.
constexpr int kCsrRegs[] = {
    UC_RISCV_REG_MSTATUS,  UC_RISCV_REG_MIE,        UC_RISCV_REG_MIP,        UC_RISCV_REG_MTVEC,
    UC_RISCV_REG_MEPC,     UC_RISCV_REG_MCAUSE,     UC_RISCV_REG_MTVAL,      UC_RISCV_REG_MSCRATCH,
    UC_RISCV_REG_MEDELEG,  UC_RISCV_REG_MIDELEG,    UC_RISCV_REG_MCOUNTEREN, UC_RISCV_REG_SATP,
    UC_RISCV_REG_STVEC,    UC_RISCV_REG_SEPC,       UC_RISCV_REG_SCAUSE,     UC_RISCV_REG_STVAL,
    UC_RISCV_REG_SSCRATCH, UC_RISCV_REG_SCOUNTEREN, UC_RISCV_REG_FCSR};
static_assert(std::size(kCsrRegs) == kCsrCount);

// mstatus.FS: fcsr can be read or written only while it is not Off. Unicorn answers a
// read of it with an uninitialised value then, and an fcsr write sets FS to Dirty.
constexpr uint64_t kMstatusFs = 3ULL << 13;
constexpr uint64_t kFsInitial = 1ULL << 13;
constexpr uint64_t kFsDirty = 3ULL << 13;

bool page_is_zero(const uint8_t* page, size_t len) {
  static const std::array<uint8_t, kSnapshotPageBytes> kZero{};
  return std::memcmp(page, kZero.data(), len) == 0;
}

}  // namespace

uint64_t Machine::Impl::digest_of(const GuestImage& image) {
  const std::unique_ptr<XXH3_state_t, decltype(&XXH3_freeState)> state(XXH3_createState(),
                                                                       &XXH3_freeState);
  if (!state) throw std::bad_alloc();
  XXH3_64bits_reset(state.get());
  const auto add = [&](uint64_t v) { XXH3_64bits_update(state.get(), &v, sizeof v); };
  add(image.entry);
  for (const ElfSegment& seg : image.segments) {
    add(seg.vaddr);
    add(seg.mem_size);
    add(seg.executable);
    add(seg.bytes.size());
    XXH3_64bits_update(state.get(), seg.bytes.data(), seg.bytes.size());
  }
  return XXH3_64bits_digest(state.get());
}

// ---- boundary tasks ----

void Machine::Impl::at_next_boundary(BoundaryTask task) {
  {
    std::lock_guard lock(tasks_mutex_);
    tasks_.push_back(std::move(task));
    tasks_pending_.store(true, std::memory_order_release);
  }
  role_.wake();
}

bool Machine::Impl::run_boundary_tasks(const MachinePosition& at) {
  if (!tasks_pending_.load(std::memory_order_acquire)) return true;
  std::vector<BoundaryTask> tasks;
  {
    std::lock_guard lock(tasks_mutex_);
    tasks.swap(tasks_);
    tasks_pending_.store(false, std::memory_order_relaxed);
  }
  safe_point_ = at;
  try {
    for (BoundaryTask& task : tasks) task(owner_);
  } catch (const std::exception& e) {
    safe_point_.reset();
    icount_ = at.instructions;
    fault(std::string("a boundary task failed: ") + e.what(), at.pc);
    return false;
  }
  safe_point_.reset();
  return true;
}

MachinePosition Machine::Impl::position() const {
  if (safe_point_) return *safe_point_;
  if (in_run_) {
    throw std::logic_error(
        "Machine::snapshot and position need a safe point: call them between runs or from a "
        "boundary task");
  }
  const bool idle = state_ == State::kStopped ? stopped_idle_ : state_ == State::kIdle;
  return {icount_, reg(UC_RISCV_REG_PC), idle};
}

// ---- taking ----

MachineSnapshot Machine::Impl::snapshot(RamCopy ram) const {
  const MachinePosition at = position();
  if (state_ == State::kFaulted || state_ == State::kDiverged || state_ == State::kUntil) {
    throw std::logic_error(
        "Machine::snapshot: a machine that faulted, diverged or stopped at --until cannot go on");
  }
  MachineSnapshot s;
  s.image_digest = image_digest_;
  s.ram_base = ram_.base();
  s.ram_size = ram_.size();
  s.digest_interval = config_.digest_interval;
  s.icount = at.instructions;
  s.guest_state = state_ == State::kExited ? GuestState::kExited
                  : at.idle                ? GuestState::kIdle
                                           : GuestState::kRunning;
  s.exit_code = exit_code_;
  s.cpu = read_cpu(at.pc);
  s.boundary_work = boundary_work_;
  s.next_digest_icount = next_digest_icount_;
  s.last_interrupt_icount = last_interrupt_icount_;
  s.last_clock = last_clock_;
  s.highest_connection = highest_connection_;
  s.timer = timer_.save();
  s.nic = nic_.save();
  s.mmio = bus_->latches();
  if (ram == RamCopy::kAll) s.ram.assign(ram_.data(), ram_.data() + ram_.size());
  return s;
}

// Register by register (uc_context_save misses fflags). `pc` is passed in: in a block hook
// Unicorn's pc register is stale.
CpuState Machine::Impl::read_cpu(uint64_t pc) const {
  CpuState cpu;
  cpu.pc = pc;
  for (int i = 1; i < 32; ++i) cpu.x[i] = reg(UC_RISCV_REG_X0 + i);
  for (int i = 0; i < 32; ++i) cpu.f[i] = reg(UC_RISCV_REG_F0 + i);
  for (size_t i = 0; i < kCsrCount; ++i) {
    if (static_cast<Csr>(i) != Csr::kFcsr) cpu.csrs[i] = reg(kCsrRegs[i]);
  }
  // A guest that turned the FPU off still has its fflags and frm: turn it on to read them.
  const uint64_t mstatus = cpu.csr(Csr::kMstatus);
  const bool fpu_off = (mstatus & kMstatusFs) == 0;
  const auto write_mstatus = [this](uint64_t v) { uc_reg_write(uc_, UC_RISCV_REG_MSTATUS, &v); };
  if (fpu_off) write_mstatus(mstatus | kFsInitial);
  cpu.csr(Csr::kFcsr) = reg(UC_RISCV_REG_FCSR);
  if (fpu_off) write_mstatus(mstatus);
  return cpu;
}

// ---- restoring ----

void Machine::Impl::restore(const MachineSnapshot& s) {
  if (s.image_digest != image_digest_) {
    throw SnapshotError(fmt::format(
        "the snapshot is of another guest image (image digest {:#018x}, this one {:#018x})",
        s.image_digest, image_digest_));
  }
  if (s.ram_base != ram_.base() || s.ram_size != ram_.size()) {
    throw SnapshotError(
        fmt::format("the snapshot has {} bytes of RAM at {:#x}, this machine {} at {:#x}",
                    s.ram_size, s.ram_base, ram_.size(), ram_.base()));
  }
  if (s.digest_interval != config_.digest_interval) {
    throw SnapshotError(fmt::format(
        "the snapshot takes a state digest every {} instructions, this machine every {}",
        s.digest_interval, config_.digest_interval));
  }
  if (s.ram.size() != s.ram_size) {
    throw SnapshotError(fmt::format(
        "the snapshot holds {} bytes of RAM, not {} (taken without RAM and not filled in?)",
        s.ram.size(), s.ram_size));
  }
  restore_ram(s.ram);
  write_cpu(s.cpu);
  bus_->restore_latches(s.mmio);
  try {
    nic_.restore(s.nic);
  } catch (const std::invalid_argument& e) {
    throw SnapshotError(e.what());
  }

  icount_ = s.icount;
  block_addr_ = s.cpu.pc;  // as if a block there had just been announced
  block_size_ = 0;
  block_start_icount_ = s.icount;
  boundary_work_ = s.boundary_work;
  next_digest_icount_ = s.next_digest_icount;
  last_interrupt_icount_ = s.last_interrupt_icount;
  last_clock_ = s.last_clock;
  highest_connection_ = s.highest_connection;
  switch (s.guest_state) {
    case GuestState::kRunning: state_ = State::kRunning; break;
    case GuestState::kIdle: state_ = State::kIdle; break;
    case GuestState::kExited: state_ = State::kExited; break;
  }
  exit_code_ = s.exit_code;
  // Last: it may arm the host timer, and nothing may fail after that.
  timer_.restore(s.timer);
}

// The RAM is freshly mapped, so zero: only the other pages need copying, which leaves a mostly
// empty guest's pages untouched on the host.
void Machine::Impl::restore_ram(std::span<const uint8_t> ram) {
  for (uint64_t offset = 0; offset < ram.size(); offset += kSnapshotPageBytes) {
    const size_t len = std::min<uint64_t>(kSnapshotPageBytes, ram.size() - offset);
    if (!page_is_zero(ram.data() + offset, len)) {
      std::memcpy(ram_.data() + offset, ram.data() + offset, len);
    }
  }
}

// The CSRs go through Unicorn's CSR writes, which apply the same masks and side effects as when
// the guest wrote them; the result is read back and must be the snapshot's.
void Machine::Impl::write_cpu(const CpuState& cpu) {
  for (int i = 1; i < 32; ++i) set_reg(UC_RISCV_REG_X0 + i, cpu.x[i]);
  for (int i = 0; i < 32; ++i) set_reg(UC_RISCV_REG_F0 + i, cpu.f[i]);
  const uint64_t mstatus = cpu.csr(Csr::kMstatus);
  const uint64_t fs = mstatus & kMstatusFs;
  set_reg(UC_RISCV_REG_MSTATUS, fs ? mstatus : mstatus | kFsInitial);
  set_reg(UC_RISCV_REG_FCSR, cpu.csr(Csr::kFcsr));
  for (size_t i = 0; i < kCsrCount; ++i) {
    const auto csr = static_cast<Csr>(i);
    if (csr != Csr::kMstatus && csr != Csr::kFcsr) set_reg(kCsrRegs[i], cpu.csrs[i]);
  }
  set_reg(UC_RISCV_REG_MSTATUS, mstatus);
  // An fcsr write marks FS Dirty without setting SD, a state only that order reaches.
  if (reg(UC_RISCV_REG_MSTATUS) != mstatus && fs == kFsDirty) {
    set_reg(UC_RISCV_REG_MSTATUS, (mstatus & ~kMstatusFs) | kFsInitial);
    set_reg(UC_RISCV_REG_FCSR, cpu.csr(Csr::kFcsr));
  }
  set_reg(UC_RISCV_REG_PC, cpu.pc);

  const CpuState now = read_cpu(cpu.pc);
  if (now == cpu) return;
  std::string differences;
  for (size_t i = 0; i < kCsrCount; ++i) {
    if (now.csrs[i] != cpu.csrs[i]) {
      differences += fmt::format("\n  {}: snapshot {:#x}, vCPU {:#x}",
                                 csr_name(static_cast<Csr>(i)), cpu.csrs[i], now.csrs[i]);
    }
  }
  throw SnapshotError("the vCPU does not take the snapshot's registers" +
                      (differences.empty() ? std::string(" (x or f registers)") : differences));
}

}  // namespace vmft::hypervisor
