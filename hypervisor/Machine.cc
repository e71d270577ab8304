#include <spdlog/spdlog.h>

#include <cstring>
#include <stdexcept>
#include <utility>

#include "MachineImpl.h"
#include "vmft/guest/abi.h"

namespace vmft::hypervisor {

namespace {

constexpr uint64_t kMstatusMie = 1ULL << 3;
constexpr uint64_t kMstatusMpie = 1ULL << 7;
constexpr uint64_t kMstatusMppMachine = 3ULL << 11;
constexpr uint32_t kWfi = 0x10500073;
constexpr uint32_t kSystemOpcode = 0x73;  // ecall, ebreak, mret, wfi, the CSR instructions
// Unicorn stops when it reaches `until`; no guest can execute at this address.
constexpr uint64_t kNeverReached = ~3ULL;
// The longest translation block QEMU builds (TCG_MAX_INSNS), in bytes.
constexpr uint64_t kMaxBlockBytes = 512 * 4;

void check(uc_err err, const char* what) {
  if (err != UC_ERR_OK) throw std::runtime_error(std::string(what) + ": " + uc_strerror(err));
}

}  // namespace

std::string emulator_name() {
  unsigned major = 0, minor = 0;
  const unsigned version = uc_version(&major, &minor);
  return "unicorn " + std::to_string(major) + "." + std::to_string(minor) + "." +
         std::to_string((version >> 8) & 0xff);
}

Machine::Impl::Impl(Machine& owner, GuestImage image, MachineConfig config, Role& role,
                    const MachineSnapshot* snapshot)
    : owner_(owner),
      role_(role),
      config_(std::move(config)),
      ram_(VMFT_RAM_BASE, config_.ram_size),
      role_clock_(*this),
      role_entropy_(*this),
      output_tap_(*this),
      console_([this](std::span<const uint8_t> bytes) { write_console(bytes); }),
      clock_(role_clock_),
      timer_(role_.timer()),
      nic_(ram_.view(), output_tap_),
      entropy_(role_entropy_),
      attention_(role.attention_flag()),
      next_digest_icount_(config_.digest_interval) {
  check(uc_open(UC_ARCH_RISCV, UC_MODE_RISCV64, &uc_), "uc_open");
  try {
    set_up(std::move(image), snapshot);
  } catch (...) {
    bus_.reset();
    uc_close(uc_);
    throw;
  }
}

void Machine::Impl::set_up(GuestImage image, const MachineSnapshot* snapshot) {
  check(uc_mem_map_ptr(uc_, ram_.base(), ram_.size(), UC_PROT_ALL, ram_.data()), "map RAM");
  bus_.emplace(
      uc_,
      [this](bool wrote) {
        if (wrote) boundary_work_ = true;
        recheck();  // the device may have changed what on_block compares against
      },
      [this](const devices::MmioDevice& device, std::exception_ptr error) {
        try {
          std::rethrow_exception(error);
        } catch (const Divergence& e) {
          diverged(e.what());
        } catch (const std::exception& e) {
          fault(std::string("device error in ") + device.name() + ": " + e.what(),
                reg(UC_RISCV_REG_PC));
        }
      });
  bus_->map(VMFT_CONSOLE_BASE, console_);
  bus_->map(VMFT_CLOCK_BASE, clock_);
  bus_->map(VMFT_TIMER_BASE, timer_);
  bus_->map(VMFT_NIC_BASE, nic_);
  bus_->map(VMFT_ENTROPY_BASE, entropy_);
  counters_.rewrite(image);
  image_digest_ = digest_of(image);
  if (snapshot) {
    restore(*snapshot);
  } else {
    load(image);
  }
  install_hooks();
}

Machine::Impl::~Impl() {
  bus_.reset();
  if (uc_) uc_close(uc_);
}

void Machine::Impl::load(const GuestImage& image) {
  for (const ElfSegment& seg : image.segments) {
    // The loader has checked that every segment lies inside RAM. An empty one may have no
    // bytes at all (a null data()), which memcpy must not be given.
    if (seg.bytes.empty()) continue;
    std::memcpy(ram_.data() + (seg.vaddr - ram_.base()), seg.bytes.data(), seg.bytes.size());
  }
  set_reg(UC_RISCV_REG_PC, image.entry);  // where run() starts
  set_reg(UC_RISCV_REG_A0, ram_.base());
  set_reg(UC_RISCV_REG_A1, ram_.size());
}

// Primary and backup must install exactly the same hooks before the first uc_emu_start:
// translation-block boundaries depend on them.
void Machine::Impl::install_hooks() {
  check(
      uc_hook_add(uc_, &block_hook_, UC_HOOK_BLOCK, reinterpret_cast<void*>(&on_block), this, 1, 0),
      "block hook");
  check(uc_hook_add(uc_, &intr_hook_, UC_HOOK_INTR, reinterpret_cast<void*>(&on_interrupt), this, 1,
                    0),
        "interrupt hook");
  check(uc_hook_add(uc_, &unmapped_hook_, UC_HOOK_MEM_UNMAPPED,
                    reinterpret_cast<void*>(&on_unmapped), this, 1, 0),
        "unmapped-memory hook");
}

uint64_t Machine::Impl::reg(int id) const {
  uint64_t value = 0;
  uc_reg_read(uc_, id, &value);
  return value;
}

void Machine::Impl::set_reg(int id, uint64_t value) { uc_reg_write(uc_, id, &value); }

// Starts where the machine is: the entry point, a restored snapshot's point (which may be an
// idle guest), or where a stopped run stopped.
RunResult Machine::Impl::run() {
  if (state_ == State::kStopped) state_ = stopped_idle_ ? State::kIdle : State::kRunning;
  struct InRun {
    bool& flag;
    explicit InRun(bool& f) : flag(f) { flag = true; }
    ~InRun() { flag = false; }
  } in_run(in_run_);
  uint64_t pc = reg(UC_RISCV_REG_PC);
  while (state_ == State::kRunning || state_ == State::kIdle) {
    if (state_ == State::kRunning) {
      recheck();  // anything may have changed since the last block
      const uc_err err = uc_emu_start(uc_, pc, kNeverReached, 0, 0);
      pc = reg(UC_RISCV_REG_PC);
      resync_icount(pc);
      after_emulation_stopped(err);
      if (step_to_until_) step_to_until(pc);
    }
    if (state_ == State::kIdle) wait_while_idle();
    if (state_ == State::kRunning && role_.should_stop(icount_)) stop(wfi_with_stop_);
  }
  return finish();
}

void Machine::Impl::stop(bool idle) {
  state_ = State::kStopped;
  stopped_idle_ = idle;
}

RunResult Machine::Impl::finish() {
  RunResult result;
  if (state_ != State::kDiverged && state_ != State::kUntil) {
    try {
      role_.end(icount_, run_end(), state_digest(reg(UC_RISCV_REG_PC)));
    } catch (const Divergence& e) {
      state_ = State::kDiverged;
      report_ = e.what();
    }
  }
  result.instructions = icount_;
  result.report = report_;
  switch (state_) {
    case State::kExited:
      result.outcome = RunResult::Outcome::kExited;
      result.exit_code = exit_code_;
      break;
    case State::kFaulted: result.outcome = RunResult::Outcome::kFaulted; break;
    case State::kDiverged: result.outcome = RunResult::Outcome::kDiverged; break;
    case State::kUntil: result.outcome = RunResult::Outcome::kUntil; break;
    default: result.outcome = RunResult::Outcome::kStopped; break;
  }
  return result;
}

// Works out why uc_emu_start returned: an error, a state change made by a hook, a stop
// request seen at a block boundary, or `wfi` (which makes Unicorn return by itself).
void Machine::Impl::after_emulation_stopped(uc_err err) {
  const uint64_t pc = reg(UC_RISCV_REG_PC);
  const bool stopped_at_boundary = std::exchange(stopped_at_boundary_, false);
  wfi_with_stop_ = false;
  if (state_ != State::kRunning) return;
  if (err != UC_ERR_OK) {
    std::string cause = uc_strerror(err);
    uint64_t fault_pc = pc;
    if (!unmapped_access_.empty()) {
      cause = unmapped_access_;
      // Unicorn leaves the pc at the block's start; find the access itself.
      if (auto access_pc = find_access(unmapped_address_)) {
        fault_pc = *access_pc;
        icount_ = block_start_icount_ + (fault_pc - block_addr_) / 4;
      }
    }
    if (err == UC_ERR_INSN_INVALID && fetch(pc) == 0x00100073U) cause = "breakpoint (ebreak)";
    fault(cause, fault_pc);
    return;
  }
  // A stop at a block boundary leaves the pc at the block's start, which may follow a wfi.
  const bool at_wfi = !stopped_at_boundary && fetch(pc - 4) == kWfi;
  if (role_.should_stop(icount_) || step_to_until_) {
    wfi_with_stop_ = at_wfi;  // resumed, the guest waits for its interrupt
    return;
  }
  if (at_wfi) {
    state_ = State::kIdle;
    return;
  }
  fault("emulation stopped unexpectedly", pc);
}

// Runs before every block: the common case, nothing to do, must stay a handful of loads with
// no call (a call would make every block save and restore registers). Every condition of
// look_at_block that comes from the vCPU's own state is folded into one count, check_at_;
// the two flags other threads set are read as they are.
void Machine::Impl::on_block(uc_engine*, uint64_t address, uint32_t size, void* user) {
  auto* self = static_cast<Impl*>(user);
  const uint64_t start = self->icount_;
  const uint64_t end = start + size / 4;
  self->block_addr_ = address;
  self->block_size_ = size;
  self->block_start_icount_ = start;
  self->icount_ = end;
  if (end >= self->check_at_ || self->attention_.load(std::memory_order_relaxed) ||
      self->tasks_pending_.load(std::memory_order_relaxed)) [[unlikely]] {
    self->look_at_block(address, size);
  }
}

// The block that starts at block_start_icount_ may need a boundary, or a look after it.
void Machine::Impl::look_at_block(uint64_t address, uint32_t size) {
  const uint64_t start = block_start_icount_;
  const uint64_t end = icount_;
  if (boundary_work_ || role_.attention() || start >= role_.due_icount() ||
      start >= next_digest_icount_ || tasks_pending_.load(std::memory_order_relaxed) ||
      end >= role_.run_limit() || end > config_.until) {
    at_block_boundary(address);
  }
  look_after_block(address, size);
  rearm();
}

// Sets check_at_ to the lowest block end at which look_at_block's conditions can hold, given
// the state now: a block that starts at or after due_icount (or the next digest) also ends
// there. Anything that changes that state between two blocks (a device access, a trap, work
// outside uc_emu_start) calls recheck(), so that the next block looks again.
void Machine::Impl::rearm() {
  if (boundary_work_ || pending_interrupts() != 0) {
    check_at_ = 0;
    return;
  }
  const uint64_t after_until = config_.until == UINT64_MAX ? UINT64_MAX : config_.until + 1;
  check_at_ = std::min({role_.due_icount(), next_digest_icount_, role_.run_limit(), after_until});
}

// Only a SYSTEM instruction (a CSR write, mret) can unmask an interrupt that waits, and it ends
// its block: the boundary after such a block takes a look.
inline void Machine::Impl::look_after_block(uint64_t address, uint32_t size) {
  if (!boundary_work_ && pending_interrupts() != 0 && ends_in_system_instruction(address, size)) {
    boundary_work_ = true;
  }
}

// A block lies in RAM (Unicorn executes nothing else); one of size 0 has no last instruction.
inline bool Machine::Impl::ends_in_system_instruction(uint64_t address, uint32_t size) const {
  const uint64_t last = address + size - 4 - ram_.base();
  if (size == 0 || last > ram_.size() - 4) return size != 0;
  uint32_t word;
  std::memcpy(&word, ram_.data() + last, 4);
  return (word & 0x7f) == kSystemOpcode;
}

// The one place where host inputs enter the guest while it runs: before the block at
// `address` executes, so always at an exact instruction count.
void Machine::Impl::at_block_boundary(uint64_t address) {
  const uint64_t icount = block_start_icount_;
  try {
    // The block's clock, entropy and output records all carry its end count (an MMIO access
    // cannot tell which instruction made it): every record up to and including that count
    // must be known before it runs, not only those below it.
    if (icount_ >= role_.run_limit()) role_.hold(icount, icount_ + 1);
    if (role_.should_stop(icount)) {
      icount_ = icount;  // the block will not run
      stopped_at_boundary_ = true;
      uc_emu_stop(uc_);
      return;
    }
    if (!run_boundary_tasks({icount, address, false})) {
      icount_ = icount;
      return;
    }
    take_inputs(icount);
    deliver_device_events();
    const bool pending = pending_interrupts() != 0;
    const bool interrupted = pending && take_interrupt(address);
    // An interrupt the guest masks waits, without a look at every boundary, until a SYSTEM
    // instruction (look_at_block).
    boundary_work_ = interrupted || nic_.can_deliver();
    if (interrupted) icount_ = icount;
    take_digest_if_due(icount, interrupted ? reg(UC_RISCV_REG_PC) : address);
    role_.boundary_done(icount, address);
    // Not when an interrupt was just taken: the pc moved, and a stop would be lost; the
    // handler's first block comes next, at the same count.
    if (!interrupted && stop_for_until(icount_)) {
      icount_ = icount;
      uc_emu_stop(uc_);
    }
  } catch (const Divergence& e) {
    icount_ = icount;
    diverged(e.what());
  } catch (const std::exception& e) {
    fault(std::string("internal error at a block boundary: ") + e.what(), address);
  }
}

void Machine::Impl::deliver_device_events() {
  if (nic_.can_deliver()) nic_.deliver();
}

uint64_t Machine::Impl::pending_interrupts() const {
  uint64_t mask = 0;
  if (timer_.interrupt_pending()) mask |= 1ULL << VMFT_IRQ_TIMER;
  if (nic_.interrupt_pending()) mask |= 1ULL << VMFT_IRQ_NIC;
  return mask;
}

// Enters the guest's trap vector as a RISC-V hart takes a machine-mode interrupt, if
// mstatus.MIE and mie allow one. `pc` is where the guest resumes after mret.
bool Machine::Impl::take_interrupt(uint64_t pc) {
  const uint64_t mstatus = reg(UC_RISCV_REG_MSTATUS);
  if ((mstatus & kMstatusMie) == 0) return false;
  const uint64_t enabled = pending_interrupts() & reg(UC_RISCV_REG_MIE);
  if (enabled == 0) return false;
  // Priority order of the privileged spec: external before timer.
  const uint64_t cause = (enabled & (1ULL << VMFT_IRQ_NIC)) ? VMFT_IRQ_NIC : VMFT_IRQ_TIMER;
  const uint64_t new_status = (mstatus & ~(kMstatusMie | kMstatusMpie)) |
                              ((mstatus & kMstatusMie) ? kMstatusMpie : 0) | kMstatusMppMachine;
  const uint64_t mtvec = reg(UC_RISCV_REG_MTVEC);
  const uint64_t vector = (mtvec & 3) == 1 ? (mtvec & ~3ULL) + 4 * cause : mtvec & ~3ULL;
  role_.interrupt_taken(block_start_icount_, static_cast<uint32_t>(cause), pc);
  last_interrupt_icount_ = block_start_icount_;
  set_reg(UC_RISCV_REG_MEPC, pc);
  set_reg(UC_RISCV_REG_MCAUSE, VMFT_MCAUSE_INTERRUPT | cause);
  set_reg(UC_RISCV_REG_MSTATUS, new_status);
  set_reg(UC_RISCV_REG_PC, vector);  // Unicorn continues there without returning
  return true;
}

// Whether --until falls in the block about to run (which would end at `block_end`).
bool Machine::Impl::stop_for_until(uint64_t block_end) {
  if (block_end <= config_.until || step_to_until_) return false;
  step_to_until_ = true;
  return true;
}

// Unicorn's `count` argument adds a per-instruction hook; that is fine here, at the very end of
// a run, where the block structure it changes no longer matters. A cached block lacks the hook,
// so the one that runs is dropped first: --until lies inside it, so the steps never leave
// its straight line (a full flush would throw away every translation).
void Machine::Impl::step_to_until(uint64_t pc) {
  if (icount_ < config_.until) {
    uc_ctl_remove_cache(uc_, pc, pc + (config_.until - icount_ + 1) * 4);
    recheck();
    const uc_err err = uc_emu_start(uc_, pc, kNeverReached, 0, config_.until - icount_);
    resync_icount(reg(UC_RISCV_REG_PC));
    if (err != UC_ERR_OK && state_ == State::kRunning) after_emulation_stopped(err);
  }
  if (state_ == State::kRunning) state_ = State::kUntil;
}

void Machine::Impl::resync_icount(uint64_t pc) {
  if (pc >= block_addr_ && pc - block_addr_ <= kMaxBlockBytes) {
    icount_ = block_start_icount_ + (pc - block_addr_) / 4;
  }
}

// The guest waits for an interrupt (idle hypercall or wfi): block the vCPU thread until an
// input makes one enabled in mie pending, or a stop is requested.
void Machine::Impl::wait_while_idle() {
  try {
    for (;;) {
      role_.hold(icount_, icount_ + 1);  // every input at this instruction is known
      if (role_.should_stop(icount_)) {
        stop(/*idle=*/true);
        return;
      }
      if (icount_ >= config_.until) {
        state_ = State::kUntil;
        return;
      }
      if (!run_boundary_tasks({icount_, reg(UC_RISCV_REG_PC), true})) return;
      take_inputs(icount_);
      deliver_device_events();
      if (pending_interrupts() & reg(UC_RISCV_REG_MIE)) break;
      role_.wait_for_input(icount_);
    }
  } catch (const Divergence& e) {
    diverged(e.what());
    return;
  }
  state_ = State::kRunning;
  boundary_work_ = true;
}

Machine::Machine(GuestImage image, MachineConfig config, Role& role)
    : impl_(std::make_unique<Impl>(*this, std::move(image), std::move(config), role, nullptr)) {}
Machine::Machine(GuestImage image, MachineConfig config, Role& role,
                 const MachineSnapshot& snapshot)
    : impl_(std::make_unique<Impl>(*this, std::move(image), std::move(config), role, &snapshot)) {}
Machine::~Machine() = default;
RunResult Machine::run() { return impl_->run(); }
uint64_t Machine::read_register(int reg) const { return impl_->reg(reg); }
std::string Machine::register_dump() const { return impl_->register_dump(); }
std::span<const uint8_t> Machine::ram() const { return impl_->ram(); }
void Machine::at_next_boundary(BoundaryTask task) { impl_->at_next_boundary(std::move(task)); }
MachineSnapshot Machine::snapshot(RamCopy ram) const { return impl_->snapshot(ram); }
MachinePosition Machine::position() const { return impl_->position(); }

}  // namespace vmft::hypervisor
