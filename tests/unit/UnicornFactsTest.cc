// The behaviours of the installed Unicorn that vmft depends on (docs/design.md, "Facts about
// Unicorn 2.0.1 we measured"), each checked directly: raw RV64 instruction words in RAM mapped as
// vmft maps it, the hooks vmft installs, then assertions. A failing test names the fact that broke.
// Written against Unicorn 2.1.1; where 2.1.1 differs from what 2.0.1 did, the test asserts what
// 2.1.1 does and its comment says so.
#include <alloca.h>
#include <gtest/gtest.h>
#include <unicorn/unicorn.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <x86intrin.h>
#endif

#include "vmft/guest/abi.h"

namespace vmft {
namespace {

// ---- RV64 encodings ----

constexpr unsigned kZero = 0, kRa = 1, kT0 = 5, kA0 = 10, kA1 = 11, kA2 = 12;

constexpr uint32_t i_type(uint32_t opcode, uint32_t funct3, unsigned rd, unsigned rs1,
                          int32_t imm) {
  return (static_cast<uint32_t>(imm) & 0xfff) << 20 | rs1 << 15 | funct3 << 12 | rd << 7 | opcode;
}
constexpr uint32_t s_type(uint32_t funct3, unsigned rs2, unsigned rs1, int32_t imm) {
  const uint32_t u = static_cast<uint32_t>(imm) & 0xfff;
  return (u >> 5) << 25 | rs2 << 20 | rs1 << 15 | funct3 << 12 | (u & 0x1f) << 7 | 0x23;
}
constexpr uint32_t addi(unsigned rd, unsigned rs1, int32_t imm) {
  return i_type(0x13, 0, rd, rs1, imm);
}
constexpr uint32_t ld(unsigned rd, unsigned rs1, int32_t imm) {
  return i_type(0x03, 3, rd, rs1, imm);
}
constexpr uint32_t lw(unsigned rd, unsigned rs1, int32_t imm) {
  return i_type(0x03, 2, rd, rs1, imm);
}
constexpr uint32_t sd(unsigned rs2, unsigned rs1, int32_t imm) { return s_type(3, rs2, rs1, imm); }
constexpr uint32_t sw(unsigned rs2, unsigned rs1, int32_t imm) { return s_type(2, rs2, rs1, imm); }
constexpr uint32_t jalr(unsigned rd, unsigned rs1, int32_t imm) {
  return i_type(0x67, 0, rd, rs1, imm);
}
constexpr uint32_t bne(unsigned rs1, unsigned rs2, int32_t offset) {
  const uint32_t u = static_cast<uint32_t>(offset);
  return ((u >> 12) & 1) << 31 | ((u >> 5) & 0x3f) << 25 | rs2 << 20 | rs1 << 15 | 1 << 12 |
         ((u >> 1) & 0xf) << 8 | ((u >> 11) & 1) << 7 | 0x63;
}
constexpr uint32_t jal(unsigned rd, int32_t offset) {
  const uint32_t u = static_cast<uint32_t>(offset);
  return ((u >> 20) & 1) << 31 | ((u >> 1) & 0x3ff) << 21 | ((u >> 11) & 1) << 20 |
         ((u >> 12) & 0xff) << 12 | rd << 7 | 0x6f;
}
constexpr uint32_t csrrs(unsigned rd, uint32_t csr, unsigned rs1) {
  return csr << 20 | rs1 << 15 | 2 << 12 | rd << 7 | 0x73;
}

constexpr uint32_t kEcall = 0x00000073;
constexpr uint32_t kEbreak = 0x00100073;
constexpr uint32_t kWfi = 0x10500073;
constexpr uint32_t kMret = 0x30200073;
constexpr uint32_t kIllegalOnes = 0xffffffff;  // what tests/guests/fault.c executes
constexpr uint32_t kIllegalZero = 0x00000000;  // c.illegal: the default vCPU has the C extension
constexpr uint32_t kInc = addi(kA0, kA0, 1);   // a0 += 1: counts the instructions that ran

// Hand-encoded from the ISA manual; each is also run by the tests below.
static_assert(kInc == 0x00150513);
static_assert(addi(kA1, kA1, -1) == 0xfff58593);
static_assert(bne(kA1, kZero, -8) == 0xfe059ce3);
static_assert(jal(kZero, 8) == 0x0080006f);
static_assert(jal(kRa, 12) == 0x00c000ef);
static_assert(jalr(kZero, kRa, 0) == 0x00008067);
static_assert(ld(kA1, kT0, 8) == 0x0082b583);
static_assert(sd(kA0, kT0, 8) == 0x00a2b423);
static_assert(csrrs(kA0, 0xC01, kZero) == 0xC0102573);  // rdtime a0

constexpr uint32_t kCsrCycle = 0xC00, kCsrTime = 0xC01, kCsrInstret = 0xC02;
constexpr uint32_t kCsrMcycle = 0xB00, kCsrMinstret = 0xB02, kCsrMscratch = 0x340;

constexpr uint64_t kRamBase = VMFT_RAM_BASE;
constexpr uint64_t kRamSize = 1 << 20;
constexpr uint64_t kNeverReached = ~3ULL;  // Machine.cc's `until`: run until a hook stops it

constexpr uint64_t kMstatusFs = 3ULL << 13;
constexpr uint64_t kFsInitial = 1ULL << 13;
constexpr uint64_t kFsDirty = 3ULL << 13;
constexpr uint64_t kMstatusSd = 1ULL << 63;

// ---- a vCPU opened and hooked as Machine.cc does it ----

struct Block {
  uint64_t address;
  uint32_t size;
  uint64_t pc_register;
};
struct Interrupt {
  uint32_t intno;
  uint64_t pc_register;
};
struct Unmapped {
  uc_mem_type type;
  uint64_t address;
  uint64_t pc_register;
  uint64_t a0;
};

class Vcpu {
 public:
  // Machine.cc: uc_open(UC_ARCH_RISCV, UC_MODE_RISCV64) with no uc_ctl_set_cpu_model (the
  // default model), RAM through uc_mem_map_ptr, then the block, interrupt and unmapped-memory
  // hooks over every address, installed before the first uc_emu_start.
  explicit Vcpu(const std::vector<uint32_t>& code) {
    ram_ = static_cast<uint8_t*>(std::aligned_alloc(4096, kRamSize));
    std::memset(ram_, 0, kRamSize);
    std::memcpy(ram_, code.data(), code.size() * 4);
    EXPECT_EQ(uc_open(UC_ARCH_RISCV, UC_MODE_RISCV64, &uc), UC_ERR_OK);
    EXPECT_EQ(uc_mem_map_ptr(uc, kRamBase, kRamSize, UC_PROT_ALL, ram_), UC_ERR_OK);
    uc_hook hook;
    EXPECT_EQ(uc_hook_add(uc, &hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(&on_block), this, 1, 0),
              UC_ERR_OK);
    EXPECT_EQ(
        uc_hook_add(uc, &hook, UC_HOOK_INTR, reinterpret_cast<void*>(&on_interrupt), this, 1, 0),
        UC_ERR_OK);
    EXPECT_EQ(uc_hook_add(uc, &hook, UC_HOOK_MEM_UNMAPPED, reinterpret_cast<void*>(&on_unmapped),
                          this, 1, 0),
              UC_ERR_OK);
  }
  ~Vcpu() {
    uc_close(uc);
    std::free(ram_);
  }
  Vcpu(const Vcpu&) = delete;
  Vcpu& operator=(const Vcpu&) = delete;

  uint64_t reg(int id) const {
    uint64_t value = 0;
    uc_reg_read(uc, id, &value);
    return value;
  }
  void set_reg(int id, uint64_t value) { uc_reg_write(uc, id, &value); }

  // Runs from the start of RAM until `until` (by default the address past the last word).
  uc_err run(uint64_t until, size_t count = 0) {
    return uc_emu_start(uc, kRamBase, until, 0, count);
  }

  uc_engine* uc = nullptr;
  std::vector<Block> blocks;
  std::vector<Interrupt> interrupts;
  std::vector<Unmapped> unmapped;
  std::function<void(Vcpu&, uint32_t)> interrupt_action;  // default: return, i.e. continue
  std::function<void(Vcpu&, uint64_t)> block_action;      // default: nothing

 private:
  static void on_block(uc_engine*, uint64_t address, uint32_t size, void* user) {
    auto& self = *static_cast<Vcpu*>(user);
    self.blocks.push_back({address, size, self.reg(UC_RISCV_REG_PC)});
    if (self.block_action) self.block_action(self, address);
  }
  static void on_interrupt(uc_engine*, uint32_t intno, void* user) {
    auto& self = *static_cast<Vcpu*>(user);
    self.interrupts.push_back({intno, self.reg(UC_RISCV_REG_PC)});
    if (self.interrupt_action) self.interrupt_action(self, intno);
  }
  static bool on_unmapped(uc_engine*, uc_mem_type type, uint64_t address, int, int64_t,
                          void* user) {
    auto& self = *static_cast<Vcpu*>(user);
    self.unmapped.push_back({type, address, self.reg(UC_RISCV_REG_PC), self.reg(UC_RISCV_REG_A0)});
    return false;
  }

  uint8_t* ram_ = nullptr;
};

constexpr uint64_t at(size_t index) { return kRamBase + 4 * index; }
uint64_t end_of(const std::vector<uint32_t>& code) { return at(code.size()); }

// ---- the engine ----

// Machine.cc opens the engine without choosing a cpu model: the default decides the guest ISA.
TEST(UnicornFacts, DefaultCpuModelIsSifiveU54WithRv64Acdfimsu) {
  Vcpu vcpu({kInc});
  int model = -1;
  ASSERT_EQ(uc_ctl_get_cpu_model(vcpu.uc, &model), UC_ERR_OK);
  EXPECT_EQ(model, UC_CPU_RISCV64_SIFIVE_U54);
  // MXL=2 (RV64) and A, C, D, F, I, M, S, U: the A extension (LR/SC) is there, design.md.
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_MISA), 0x800000000014112dULL);
}

// design.md ("What the snapshot cannot capture"): the register set audited on 2.1.1 has no
// privilege mode, PMP register or LR/SC reservation; a new register id means re-auditing it.
TEST(UnicornFacts, RegisterSetHasNoPrivilegeModePmpOrReservation) {
  EXPECT_EQ(UC_RISCV_REG_PC, 190);
  EXPECT_EQ(UC_RISCV_REG_ENDING, UC_RISCV_REG_PC + 1);
  Vcpu vcpu({kInc});
  uint64_t value = 0;
  EXPECT_EQ(uc_reg_read(vcpu.uc, UC_RISCV_REG_ENDING, &value), UC_ERR_ARG);
}

// ---- traps ----

// Traps.cc: handle_exception (hypercalls are intno 8; the caller's pc is the pc register - 4).
TEST(UnicornFacts, EcallArrivesAsInterrupt8WithThePcPastIt) {
  const std::vector<uint32_t> code = {kInc, kEcall, kInc};
  Vcpu vcpu(code);
  vcpu.interrupt_action = [](Vcpu& v, uint32_t) { v.set_reg(UC_RISCV_REG_A0, 42); };
  ASSERT_EQ(vcpu.run(end_of(code)), UC_ERR_OK);
  ASSERT_EQ(vcpu.interrupts.size(), 1u);
  EXPECT_EQ(vcpu.interrupts[0].intno, 8u);
  EXPECT_EQ(vcpu.interrupts[0].pc_register, at(2));
  // A register written in the hook is seen by the guest, which goes on after the ecall.
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_A0), 43u);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_PC), end_of(code));
}

// Traps.cc: handle_hypercall (exit, idle) stops the run from the interrupt hook.
TEST(UnicornFacts, EmuStopInTheInterruptHookReturnsOkWithThePcPastTheEcall) {
  const std::vector<uint32_t> code = {kInc, kEcall, kInc, kInc};
  Vcpu vcpu(code);
  vcpu.interrupt_action = [](Vcpu& v, uint32_t) { uc_emu_stop(v.uc); };
  ASSERT_EQ(vcpu.run(kNeverReached), UC_ERR_OK);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_PC), at(2));
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_A0), 1u);
}

// Traps.cc: emulate_csr (rdtime, and the counters CounterRewriter turned into rdtime).
TEST(UnicornFacts, RdtimeArrivesAsInterrupt2WithThePcPastIt) {
  const std::vector<uint32_t> code = {kInc, csrrs(kA0, kCsrTime, kZero), kInc};
  Vcpu vcpu(code);
  vcpu.interrupt_action = [](Vcpu& v, uint32_t) { v.set_reg(UC_RISCV_REG_A0, 42); };
  ASSERT_EQ(vcpu.run(end_of(code)), UC_ERR_OK);
  ASSERT_EQ(vcpu.interrupts.size(), 1u);
  EXPECT_EQ(vcpu.interrupts[0].intno, 2u);
  EXPECT_EQ(vcpu.interrupts[0].pc_register, at(2));
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_A0), 43u);  // the hook's value stands in for the CSR's
}

// Traps.cc: handle_exception reports an illegal instruction at the pc register - 4.
TEST(UnicornFacts, IllegalInstructionArrivesAsInterrupt2WithThePcPastIt) {
  for (const uint32_t word : {kIllegalOnes, kIllegalZero}) {
    for (const bool at_block_start : {false, true}) {
      SCOPED_TRACE(testing::Message()
                   << "word " << std::hex << word << " at block start " << at_block_start);
      const std::vector<uint32_t> code = at_block_start ? std::vector<uint32_t>{word, kInc}
                                                        : std::vector<uint32_t>{kInc, word, kInc};
      const uint64_t illegal_pc = at(at_block_start ? 0 : 1);
      Vcpu vcpu(code);
      ASSERT_EQ(vcpu.run(end_of(code)), UC_ERR_OK);
      ASSERT_EQ(vcpu.interrupts.size(), 1u);
      EXPECT_EQ(vcpu.interrupts[0].intno, 2u);
      EXPECT_EQ(vcpu.interrupts[0].pc_register, illegal_pc + 4);  // +4 even for a 16-bit word
    }
  }
}

// Machine.cc: on_block counts size / 4 instructions; design.md said 2.0.1 announced a block of an
// instruction illegal at translation with size 0. On 2.1.1 that holds only for the all-zero word
// (c.illegal); 0xffffffff, the fault guest's word, is announced with its 4 bytes.
TEST(UnicornFacts, BlockOfAnIllegalWordIsAnnouncedWithSize0OnlyForTheZeroWord) {
  {
    Vcpu vcpu({kIllegalZero, kInc});
    ASSERT_EQ(vcpu.run(at(2)), UC_ERR_OK);
    ASSERT_FALSE(vcpu.blocks.empty());
    EXPECT_EQ(vcpu.blocks[0].address, at(0));
    EXPECT_EQ(vcpu.blocks[0].size, 0u);
  }
  {
    Vcpu vcpu({kIllegalOnes, kInc});
    ASSERT_EQ(vcpu.run(at(2)), UC_ERR_OK);
    ASSERT_FALSE(vcpu.blocks.empty());
    EXPECT_EQ(vcpu.blocks[0].address, at(0));
    EXPECT_EQ(vcpu.blocks[0].size, 4u);
  }
}

// Machine.cc: after_emulation_stopped names an ebreak from UC_ERR_INSN_INVALID and the pc.
TEST(UnicornFacts, EbreakReturnsInsnInvalidWithThePcAtIt) {
  const std::vector<uint32_t> code = {kInc, kEbreak, kInc};
  Vcpu vcpu(code);
  EXPECT_EQ(vcpu.run(end_of(code)), UC_ERR_INSN_INVALID);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_PC), at(1));
  EXPECT_TRUE(vcpu.interrupts.empty());  // no intno 3 reaches the interrupt hook
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_A0), 1u);
}

// Machine.cc: run() and after_emulation_stopped take a return at pc-4 == wfi as an idle guest,
// and resync_icount corrects the count of the block, which goes on past the wfi.
TEST(UnicornFacts, WfiReturnsOkWithThePcPastIt) {
  const std::vector<uint32_t> code = {kInc, kWfi, kInc, kInc};
  Vcpu vcpu(code);
  ASSERT_EQ(vcpu.run(kNeverReached), UC_ERR_OK);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_PC), at(2));
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_A0), 1u);
  ASSERT_EQ(vcpu.blocks.size(), 1u);
  EXPECT_EQ(vcpu.blocks[0].size, 16u);  // wfi does not end the translation block
}

// ---- blocks ----

// Machine.cc: on_block / at_block_boundary (a CSR access, e.g. to mie or mstatus, is followed
// by a block boundary where a pending interrupt can be taken).
TEST(UnicornFacts, CsrInstructionEndsATranslationBlock) {
  const std::vector<uint32_t> code = {kInc, kInc, csrrs(kA1, kCsrMscratch, kZero), kInc, kInc};
  Vcpu vcpu(code);
  ASSERT_EQ(vcpu.run(end_of(code)), UC_ERR_OK);
  ASSERT_EQ(vcpu.blocks.size(), 2u);
  EXPECT_EQ(vcpu.blocks[0].address, at(0));
  EXPECT_EQ(vcpu.blocks[0].size, 12u);  // the CSR instruction is the block's last
  EXPECT_EQ(vcpu.blocks[1].address, at(3));
  EXPECT_EQ(vcpu.blocks[1].size, 8u);
}

// Machine.cc: on_block looks at a masked interrupt again only after a block that ends in a SYSTEM
// instruction: every instruction that can unmask one (a CSR write to mstatus or mie in each of
// its forms, mret) must end its block.
TEST(UnicornFacts, EveryInstructionThatCanUnmaskAnInterruptEndsItsBlock) {
  constexpr uint32_t kCsrMstatus = 0x300, kCsrMie = 0x304;
  for (const uint32_t csr : {kCsrMstatus, kCsrMie}) {
    for (uint32_t funct3 = 1; funct3 <= 7; ++funct3) {
      if (funct3 == 4) continue;  // not a CSR instruction
      // rs1/uimm 8 sets or clears MIE (mstatus) or bit 3 (mie); csrrw writes x8 = 0.
      const uint32_t insn = csr << 20 | 8u << 15 | funct3 << 12 | kA1 << 7 | 0x73;
      SCOPED_TRACE(testing::Message() << "csr 0x" << std::hex << csr << " funct3 " << funct3);
      const std::vector<uint32_t> code = {kInc, kInc, insn, kInc, kInc};
      Vcpu vcpu(code);
      ASSERT_EQ(vcpu.run(end_of(code)), UC_ERR_OK);
      ASSERT_GE(vcpu.blocks.size(), 2u);
      EXPECT_EQ(vcpu.blocks[0].size, 12u);
      EXPECT_EQ(vcpu.blocks[1].address, at(3));
    }
  }
  const std::vector<uint32_t> code = {kInc, kInc, kMret, kInc, kInc};
  Vcpu vcpu(code);
  vcpu.set_reg(UC_RISCV_REG_MEPC, at(3));
  vcpu.set_reg(UC_RISCV_REG_MSTATUS, 3ULL << 11);  // MPP = machine: mret stays in M mode
  ASSERT_EQ(vcpu.run(end_of(code)), UC_ERR_OK);
  ASSERT_GE(vcpu.blocks.size(), 2u);
  EXPECT_EQ(vcpu.blocks[0].size, 12u);
  EXPECT_EQ(vcpu.blocks[1].address, at(3));
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_A0), 4u);
}

// Machine.cc: on_block and state digests use the hook's address argument, not the pc register,
// because design.md found the register stale in a block hook on 2.0.1. On 2.1.1 it was current in
// every case tried: chained loop blocks, jal, jalr, after ecall, after MMIO, after a redirect.
TEST(UnicornFacts, BlockHookPcRegisterMatchesTheBlockAddress) {
  const uint64_t mmio = VMFT_MMIO_BASE;
  const std::vector<uint32_t> code = {/* 0 */ addi(kA1, kZero, 100),
                                      /* 1 */ ld(kA2, kT0, 0),  // MMIO read
                                      /* 2 */ sd(kA2, kT0, 8),  // MMIO write
                                      /* 3 */ kInc,
                                      /* 4 */ addi(kA1, kA1, -1),
                                      /* 5 */ bne(kA1, kZero, -16),  // back to 1
                                      /* 6 */ jal(kRa, 16),          // to 10
                                      /* 7 */ kEcall,
                                      /* 8 */ kInc,
                                      /* 9 */ jal(kZero, 16),  // to 13
                                      /* 10 */ kInc,
                                      /* 11 */ kInc,
                                      /* 12 */ jalr(kZero, kRa, 0),  // back to 7
                                      /* 13 */ kInc,
                                      /* 14 */ kInc,  // the end: not run
                                      /* 15 */ kInc,  // the "interrupt handler"
                                      /* 16 */ kMret};
  Vcpu vcpu(code);
  ASSERT_EQ(uc_mmio_map(
                vcpu.uc, mmio, VMFT_MMIO_PAGE_SIZE,
                [](uc_engine*, uint64_t, unsigned, void*) -> uint64_t { return 7; }, nullptr,
                [](uc_engine*, uint64_t, unsigned, uint64_t, void*) {}, nullptr),
            UC_ERR_OK);
  vcpu.set_reg(UC_RISCV_REG_T0, mmio);
  vcpu.set_reg(UC_RISCV_REG_MSTATUS, 3ULL << 11);  // MPP = machine, so mret stays in M-mode
  // Once, at the 50th block, enter a "handler" at 15 that returns to the block, as
  // Machine.cc's take_interrupt does.
  vcpu.block_action = [](Vcpu& v, uint64_t address) {
    if (v.blocks.size() != 50) return;
    v.set_reg(UC_RISCV_REG_MEPC, address);
    v.set_reg(UC_RISCV_REG_PC, at(15));
  };
  ASSERT_EQ(vcpu.run(at(14)), UC_ERR_OK);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_A0), 100u + 4 + 1);  // loop, 8, 10, 11, 13 and the handler
  EXPECT_EQ(vcpu.interrupts.size(), 1u);
  EXPECT_GT(vcpu.blocks.size(), 100u);
  size_t stale = 0;
  for (const Block& b : vcpu.blocks) {
    if (b.pc_register != b.address) {
      if (stale++ < 5)
        ADD_FAILURE() << std::hex << "block " << b.address << ": pc register " << b.pc_register;
    }
  }
  EXPECT_EQ(stale, 0u);
}

// Machine.cc: step_to_until (vmft replay --until) relies on both halves of this fact: a cached
// block ignores `count` ...
TEST(UnicornFacts, CountDoesNotLimitABlockCachedBeforeItWasSet) {
  const std::vector<uint32_t> code = {kInc, kInc, kInc, kInc, kInc, kInc, kInc, kInc, kWfi};
  Vcpu vcpu(code);
  ASSERT_EQ(vcpu.run(kNeverReached), UC_ERR_OK);
  ASSERT_EQ(vcpu.reg(UC_RISCV_REG_A0), 8u);
  vcpu.set_reg(UC_RISCV_REG_A0, 0);
  ASSERT_EQ(vcpu.run(kNeverReached, 3), UC_ERR_OK);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_A0), 8u);  // the whole block ran
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_PC), at(9));
}

// ... and uc_ctl_remove_cache over the block makes `count` stop the run exactly.
TEST(UnicornFacts, RemoveCacheMakesTheCountEffective) {
  const std::vector<uint32_t> code = {kInc, kInc, kInc, kInc, kInc, kInc, kInc, kInc, kWfi};
  Vcpu vcpu(code);
  ASSERT_EQ(vcpu.run(kNeverReached), UC_ERR_OK);
  vcpu.set_reg(UC_RISCV_REG_A0, 0);
  ASSERT_EQ(uc_ctl_remove_cache(vcpu.uc, at(0), at(3 + 1)), UC_ERR_OK);  // as step_to_until
  ASSERT_EQ(vcpu.run(kNeverReached, 3), UC_ERR_OK);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_A0), 3u);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_PC), at(3));
}

// ---- memory ----

// Traps.cc / Machine.cc: on_unmapped, find_access (searches the block from its start, with the
// registers as the block's earlier instructions left them) and after_emulation_stopped.
TEST(UnicornFacts, UnmappedAccessHookSeesTheBlockStartAsPc) {
  constexpr uint64_t kHole = 0x40000000;
  for (const bool store : {false, true}) {
    SCOPED_TRACE(store ? "store" : "load");
    const std::vector<uint32_t> code = {kInc, kInc, store ? sd(kA0, kT0, 8) : ld(kA1, kT0, 8),
                                        kInc};
    Vcpu vcpu(code);
    vcpu.set_reg(UC_RISCV_REG_T0, kHole);
    EXPECT_EQ(vcpu.run(end_of(code)), store ? UC_ERR_WRITE_UNMAPPED : UC_ERR_READ_UNMAPPED);
    ASSERT_EQ(vcpu.unmapped.size(), 1u);
    EXPECT_EQ(vcpu.unmapped[0].type, store ? UC_MEM_WRITE_UNMAPPED : UC_MEM_READ_UNMAPPED);
    EXPECT_EQ(vcpu.unmapped[0].address, kHole + 8);
    EXPECT_EQ(vcpu.unmapped[0].pc_register, at(0));  // not at(2), the access
    EXPECT_EQ(vcpu.unmapped[0].a0, 2u);              // the two earlier instructions have run
    EXPECT_EQ(vcpu.reg(UC_RISCV_REG_PC), at(0));     // also after uc_emu_start returned
  }
  {
    SCOPED_TRACE("fetch");
    const std::vector<uint32_t> code = {kInc, jalr(kZero, kT0, 0)};
    Vcpu vcpu(code);
    vcpu.set_reg(UC_RISCV_REG_T0, kHole);
    EXPECT_EQ(vcpu.run(end_of(code)), UC_ERR_FETCH_UNMAPPED);
    ASSERT_EQ(vcpu.unmapped.size(), 1u);
    EXPECT_EQ(vcpu.unmapped[0].type, UC_MEM_FETCH_UNMAPPED);
    EXPECT_EQ(vcpu.unmapped[0].address, kHole);
  }
}

struct MmioAccess {
  bool write;
  uint64_t offset;
  unsigned size;
  uint64_t value;
  bool operator==(const MmioAccess&) const = default;
};
std::ostream& operator<<(std::ostream& os, const MmioAccess& a) {
  return os << (a.write ? "write" : "read") << " +" << a.offset << " size " << a.size << " value 0x"
            << std::hex << a.value << std::dec;
}

// MmioBus.cc: on_read latches on the low half, on_write commits on the high half.
TEST(UnicornFacts, Mmio64BitAccessArrivesAsTwo32BitHalvesLowFirst) {
  constexpr uint64_t kRegister = 0x1122334455667788ULL;
  const std::vector<uint32_t> code = {ld(kA2, kT0, 8), sd(kA2, kT0, 16), lw(kA1, kT0, 8),
                                      sw(kA1, kT0, 24)};
  Vcpu vcpu(code);
  std::vector<MmioAccess> accesses;
  ASSERT_EQ(
      uc_mmio_map(
          vcpu.uc, VMFT_MMIO_BASE, VMFT_MMIO_PAGE_SIZE,
          [](uc_engine*, uint64_t offset, unsigned size, void* user) -> uint64_t {
            const uint64_t value = kRegister >> (8 * (offset & 7));
            static_cast<std::vector<MmioAccess>*>(user)->push_back({false, offset, size, value});
            return value;
          },
          &accesses,
          [](uc_engine*, uint64_t offset, unsigned size, uint64_t value, void* user) {
            static_cast<std::vector<MmioAccess>*>(user)->push_back({true, offset, size, value});
          },
          &accesses),
      UC_ERR_OK);
  vcpu.set_reg(UC_RISCV_REG_T0, VMFT_MMIO_BASE);
  ASSERT_EQ(vcpu.run(end_of(code)), UC_ERR_OK);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_A2), kRegister);
  const std::vector<MmioAccess> expected = {
      {false, 8, 4, kRegister},  {false, 12, 4, kRegister >> 32},  // ld: low, then high
      {true, 16, 4, 0x55667788}, {true, 20, 4, 0x11223344},        // sd: low, then high
      {false, 8, 4, kRegister},  {true, 24, 4, 0x55667788}};       // 32-bit: as they are
  EXPECT_EQ(accesses, expected);
}

// ---- counters ----

// CounterRewriter.h: cycle, instret, mcycle and minstret do not trap (so vmft rewrites them to
// `time`, which does) and read the host's time stamp counter, not an instruction count.
TEST(UnicornFacts, CounterCsrsReadTheHostTscWithoutTrapping) {
  for (const uint32_t csr : {kCsrCycle, kCsrInstret, kCsrMcycle, kCsrMinstret}) {
    SCOPED_TRACE(testing::Message() << "csr 0x" << std::hex << csr);
    const std::vector<uint32_t> code = {kInc, kInc, csrrs(kA1, csr, kZero), kInc};
    Vcpu vcpu(code);
#if defined(__x86_64__)
    const uint64_t before = __rdtsc();
#endif
    ASSERT_EQ(vcpu.run(end_of(code)), UC_ERR_OK);
#if defined(__x86_64__)
    const uint64_t after = __rdtsc();
#endif
    EXPECT_TRUE(vcpu.interrupts.empty());
    const uint64_t value = vcpu.reg(UC_RISCV_REG_A1);
    EXPECT_GT(value, 1'000'000u);  // 2 instructions had retired
#if defined(__x86_64__)
    EXPECT_GE(value, before);
    EXPECT_LE(value, after);
#endif
  }
}

// ---- mstatus.FS and fcsr (MachineSnapshot.cc: read_cpu and restore) ----

// Fills this much stack below the caller with `pattern`, where uc_reg_read's frames will be.
__attribute__((noinline)) void paint_stack(uint64_t pattern) {
  constexpr size_t kWords = 2048;
  auto* words = static_cast<volatile uint64_t*>(alloca(kWords * sizeof(uint64_t)));
  for (size_t i = 0; i < kWords; ++i) words[i] = pattern;
}
__attribute__((noinline)) uint64_t read_fcsr(uc_engine* uc, uc_err* err) {
  uint64_t value = 0;
  *err = uc_reg_read(uc, UC_RISCV_REG_FCSR, &value);
  return value;
}

// MachineSnapshot.cc: read_cpu treats FS Off as a possible state of a vCPU.
TEST(UnicornFacts, FreshVcpuHasTheFpuOff) {
  Vcpu vcpu({kInc});
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_MSTATUS), 0u);
}

// MachineSnapshot.cc: read_cpu turns FS on to read fcsr: with FS Off the read "succeeds" but
// gives whatever was on the host stack.
TEST(UnicornFacts, FcsrReadWithTheFpuOffGivesAnUninitialisedValue) {
  Vcpu vcpu({kInc});
  vcpu.set_reg(UC_RISCV_REG_MSTATUS, kFsInitial);
  vcpu.set_reg(UC_RISCV_REG_FCSR, 0x65);
  vcpu.set_reg(UC_RISCV_REG_MSTATUS, 0);
  for (const uint64_t pattern : {0xa5a5a5a5a5a5a5a5ULL, 0x5a5a5a5a5a5a5a5aULL}) {
    paint_stack(pattern);
    uc_err err;
    const uint64_t value = read_fcsr(vcpu.uc, &err);
    EXPECT_EQ(err, UC_ERR_OK);  // no error says the value is junk
    EXPECT_NE(value, 0x65u) << std::hex << value;
  }
  vcpu.set_reg(UC_RISCV_REG_MSTATUS, kFsInitial);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_FCSR), 0x65u);  // still there, readable with FS on
}

// MachineSnapshot.cc: restore writes mstatus with FS on before it writes fcsr.
TEST(UnicornFacts, FcsrWriteWithTheFpuOffIsDropped) {
  Vcpu vcpu({kInc});
  vcpu.set_reg(UC_RISCV_REG_MSTATUS, kFsInitial);
  vcpu.set_reg(UC_RISCV_REG_FCSR, 0x65);
  vcpu.set_reg(UC_RISCV_REG_MSTATUS, 0);
  uint64_t value = 0x1f;
  EXPECT_EQ(uc_reg_write(vcpu.uc, UC_RISCV_REG_FCSR, &value), UC_ERR_OK);  // no error either
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_MSTATUS), 0u);
  vcpu.set_reg(UC_RISCV_REG_MSTATUS, kFsInitial);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_FCSR), 0x65u);
}

// MachineSnapshot.cc: restore's last step rebuilds "FS Dirty without SD" by writing fcsr ...
TEST(UnicornFacts, FcsrWriteMarksFsDirtyWithoutSd) {
  Vcpu vcpu({kInc});
  vcpu.set_reg(UC_RISCV_REG_MSTATUS, kFsInitial);
  vcpu.set_reg(UC_RISCV_REG_FCSR, 0x65);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_FCSR), 0x65u);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_MSTATUS) & kMstatusFs, kFsDirty);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_MSTATUS) & kMstatusSd, 0u);
}

// ... because a direct mstatus write with FS Dirty also sets SD.
TEST(UnicornFacts, MstatusWriteWithFsDirtySetsSd) {
  Vcpu vcpu({kInc});
  vcpu.set_reg(UC_RISCV_REG_MSTATUS, kFsDirty);
  EXPECT_EQ(vcpu.reg(UC_RISCV_REG_MSTATUS), kFsDirty | kMstatusSd);
}

}  // namespace
}  // namespace vmft
