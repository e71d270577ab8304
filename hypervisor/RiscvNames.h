#pragma once
// Names of the RISC-V registers and of the machine CSRs a state digest covers, for reports.
// One list each, so the register dump, the digest and the divergence report agree.

#include <unicorn/unicorn.h>

namespace vmft::hypervisor {

/// ABI names of x0..x31.
inline constexpr const char* kRegisterNames[32] = {
    "zero", "ra", "sp", "gp", "tp",  "t0",  "t1", "t2", "s0", "s1", "a0",
    "a1",   "a2", "a3", "a4", "a5",  "a6",  "a7", "s2", "s3", "s4", "s5",
    "s6",   "s7", "s8", "s9", "s10", "s11", "t3", "t4", "t5", "t6"};

/// The CSRs in logchannel::StateDigest::csrs, in that order.
struct DigestCsr {
  int uc_reg;
  const char* name;
};
inline constexpr DigestCsr kDigestCsrs[6] = {
    {UC_RISCV_REG_MSTATUS, "mstatus"}, {UC_RISCV_REG_MIE, "mie"},
    {UC_RISCV_REG_MTVEC, "mtvec"},     {UC_RISCV_REG_MEPC, "mepc"},
    {UC_RISCV_REG_MCAUSE, "mcause"},   {UC_RISCV_REG_MSCRATCH, "mscratch"}};

}  // namespace vmft::hypervisor
