// Synchronous traps: hypercalls (ecall), the emulated counter CSRs, and guest faults.
#include <fmt/format.h>

#include <cstring>

#include "MachineImpl.h"
#include "RiscvNames.h"
#include "vmft/guest/abi.h"

namespace vmft::hypervisor {

namespace {

// Unicorn's interrupt numbers for RISC-V are the exception causes as raised, before the
// privilege adjustment: every ecall arrives as 8.
constexpr uint32_t kIllegalInstruction = 2;
constexpr uint32_t kEcall = 8;

const char* exception_name(uint32_t intno) {
  switch (intno) {
    case 0: return "instruction address misaligned";
    case 1: return "instruction access fault";
    case 2: return "illegal instruction";
    case 3: return "breakpoint";
    case 4: return "load address misaligned";
    case 5: return "load access fault";
    case 6: return "store address misaligned";
    case 7: return "store access fault";
    case 12: return "instruction page fault";
    case 13: return "load page fault";
    case 15: return "store page fault";
    default: return "exception";
  }
}

const char* access_name(uc_mem_type type) {
  switch (type) {
    case UC_MEM_READ_UNMAPPED: return "read from";
    case UC_MEM_WRITE_UNMAPPED: return "write to";
    case UC_MEM_FETCH_UNMAPPED: return "instruction fetch from";
    default: return "access to";
  }
}

}  // namespace

void Machine::Impl::on_interrupt(uc_engine*, uint32_t intno, void* user) {
  auto* self = static_cast<Impl*>(user);
  self->recheck();  // a hypercall or an emulated CSR may change what on_block compares against
  try {
    self->handle_exception(intno);
  } catch (const Divergence& e) {
    self->diverged(e.what());
  } catch (const std::exception& e) {
    self->fault(std::string("internal error in a trap: ") + e.what(), self->reg(UC_RISCV_REG_PC));
  }
}

bool Machine::Impl::on_unmapped(uc_engine*, uc_mem_type type, uint64_t address, int size, int64_t,
                                void* user) {
  auto* self = static_cast<Impl*>(user);
  self->unmapped_address_ = address;
  self->unmapped_access_ = fmt::format("bad memory access: {}-byte {} unmapped address {:#x}", size,
                                       access_name(type), address);
  return false;  // Unicorn stops with an error; run() reports it
}

// Unicorn has already advanced the pc past the trapping instruction.
void Machine::Impl::handle_exception(uint32_t intno) {
  const uint64_t next_pc = reg(UC_RISCV_REG_PC);
  resync_icount(next_pc);
  const uint64_t pc = next_pc - 4;
  if (intno == kEcall) {
    handle_hypercall();
  } else if (intno == kIllegalInstruction) {
    if (!emulate_csr(pc)) {
      const auto word = fetch(pc);
      icount_ -= 1;  // the illegal instruction did not retire
      fault(word ? fmt::format("illegal instruction {:#010x}", *word) : "illegal instruction", pc);
    }
  } else {
    icount_ -= 1;
    fault(exception_name(intno), pc);
  }
}

void Machine::Impl::handle_hypercall() {
  const uint64_t number = reg(UC_RISCV_REG_A7);
  const uint64_t a0 = reg(UC_RISCV_REG_A0);
  const uint64_t a1 = reg(UC_RISCV_REG_A1);
  switch (number) {
    case VMFT_HC_EXIT:
      exit_code_ = static_cast<int>(a0);
      state_ = State::kExited;
      uc_emu_stop(uc_);
      return;
    case VMFT_HC_CONSOLE_WRITE: {
      const auto bytes = ram_.view().slice(a0, a1);
      if (a1 != 0 && bytes.empty()) {
        fault(fmt::format("console write of {} bytes at {:#x} is outside RAM", a1, a0),
              reg(UC_RISCV_REG_PC) - 4);
        return;
      }
      console_.write_bytes(bytes);
      set_reg(UC_RISCV_REG_A0, a1);
      return;
    }
    case VMFT_HC_IDLE:
      if ((pending_interrupts() & reg(UC_RISCV_REG_MIE)) == 0) {
        state_ = State::kIdle;
        uc_emu_stop(uc_);
      }
      return;
    default: fault(fmt::format("unknown hypercall {}", number), reg(UC_RISCV_REG_PC) - 4); return;
  }
}

// Unicorn traps accesses to `time` (and, after CounterRewriter, to cycle and instret): give the
// guest the value a RISC-V hart would. time and cycle count nanoseconds since boot (a 1 GHz
// timebase); instret is the exact number of instructions retired before this one.
bool Machine::Impl::emulate_csr(uint64_t pc) {
  const auto word = fetch(pc);
  if (!word) return false;
  const auto insn = decode_csr_instruction(*word);
  if (!insn || insn->csr != kCsrTime) return false;
  const uint16_t csr = counters_.original_csr(pc).value_or(kCsrTime);
  using logchannel::ClockSource;
  // csrrw, or csrrs/csrrc with a source: a write. `time` is read-only (a write is illegal,
  // as on hardware); writes to the machine counters are ignored, since vmft owns them.
  const bool writes = insn->funct3 == 1 || insn->funct3 == 5 || insn->rs1 != 0;
  if (writes && csr == kCsrTime) return false;
  uint64_t value = 0;
  switch (csr) {
    case kCsrTime: value = read_clock(ClockSource::kCsrTime); break;
    case kCsrCycle:
    case kCsrMcycle: value = read_clock(ClockSource::kCsrCycle); break;
    case kCsrInstret:
    case kCsrMinstret: value = icount_ - 1; break;
    default: return false;
  }
  if (insn->rd != 0) set_reg(UC_RISCV_REG_X0 + static_cast<int>(insn->rd), value);
  return true;
}

std::optional<uint32_t> Machine::Impl::fetch(uint64_t pc) const {
  const auto bytes = ram_.view().slice(pc, 4);
  if (bytes.empty()) return std::nullopt;
  uint32_t word;
  std::memcpy(&word, bytes.data(), 4);
  return word;
}

// The first load or store in the current block whose effective address is `address`, or the
// block's own start for a fetch. The registers are current here: every earlier instruction of
// the block has run, and the faulting one has not.
std::optional<uint64_t> Machine::Impl::find_access(uint64_t address) const {
  if (address == block_addr_) return std::nullopt;
  for (uint64_t pc = block_addr_; pc < block_addr_ + block_size_; pc += 4) {
    const auto word = fetch(pc);
    if (!word) return std::nullopt;
    const uint32_t opcode = *word & 0x7f;
    int64_t imm;
    if (opcode == 0x03) {  // LOAD: imm[11:0] in bits 31:20
      imm = static_cast<int32_t>(*word) >> 20;
    } else if (opcode == 0x23) {  // STORE: imm[11:5] in 31:25, imm[4:0] in 11:7
      imm = ((static_cast<int32_t>(*word) >> 25) << 5) | ((*word >> 7) & 0x1f);
    } else {
      continue;
    }
    const unsigned rs1 = (*word >> 15) & 0x1f;
    if (reg(UC_RISCV_REG_X0 + static_cast<int>(rs1)) + static_cast<uint64_t>(imm) == address) {
      return pc;
    }
  }
  return std::nullopt;
}

void Machine::Impl::fault(const std::string& cause, uint64_t pc) {
  if (state_ == State::kFaulted || state_ == State::kDiverged) return;
  state_ = State::kFaulted;
  report_ = fmt::format("guest fault: {} at pc {:#x} after {} instructions\n{}", cause, pc, icount_,
                        register_dump());
  uc_emu_stop(uc_);
}

std::string Machine::Impl::register_dump() const {
  std::string out;
  for (int i = 0; i < 32; ++i) {
    out += fmt::format("{:>4}={:#018x}{}", kRegisterNames[i], reg(UC_RISCV_REG_X0 + i),
                       i % 4 == 3 ? "\n" : "  ");
  }
  out += fmt::format("mstatus={:#x} mepc={:#x} mcause={:#x} mtvec={:#x}", reg(UC_RISCV_REG_MSTATUS),
                     reg(UC_RISCV_REG_MEPC), reg(UC_RISCV_REG_MCAUSE), reg(UC_RISCV_REG_MTVEC));
  return out;
}

}  // namespace vmft::hypervisor
