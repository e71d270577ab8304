#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <unordered_map>

#include "vmft/hypervisor/ElfLoader.h"

namespace vmft::hypervisor {

inline constexpr uint16_t kCsrCycle = 0xC00;
inline constexpr uint16_t kCsrTime = 0xC01;
inline constexpr uint16_t kCsrInstret = 0xC02;
inline constexpr uint16_t kCsrMcycle = 0xB00;
inline constexpr uint16_t kCsrMinstret = 0xB02;

/// The fields of a Zicsr instruction: csrrw/csrrs/csrrc (funct3 1-3) or their immediate forms
/// csrrwi/csrrsi/csrrci (funct3 5-7), where `rs1` holds the 5-bit unsigned immediate.
struct CsrInstruction {
  unsigned rd = 0;
  unsigned funct3 = 0;
  unsigned rs1 = 0;
  uint16_t csr = 0;
};

/// Decodes `word` if it is a Zicsr instruction (opcode SYSTEM, funct3 in {1,2,3,5,6,7});
/// anything else, ecall and mret included, is nullopt.
std::optional<CsrInstruction> decode_csr_instruction(uint32_t word);

/// Makes the counter CSRs deterministic. Unicorn answers cycle, instret, mcycle and
/// minstret from the host TSC and offers no hook for them, but it traps every access to `time`
/// as an illegal instruction. So at load time each access to a counter CSR is rewritten to the
/// same instruction naming `time`, and the original CSR is remembered by guest pc; at the trap
/// the hypervisor asks original_csr(pc) to tell a rewritten counter access from a real rdtime.
///
/// Only 4-byte-aligned words of the image's code (GuestImage::code: its executable sections)
/// are scanned; no C extension, so every instruction is such a word. Constants that encode a
/// counter access are left alone wherever the linker put them, as long as the file has its
/// section headers; without them, every executable segment counts as code.
///
/// Deterministic: the same image always yields the same rewrites, so primary and backup agree.
/// Not thread-safe; build it before the vCPU starts, then it is only read.
class CounterRewriter {
 public:
  /// Rewrites the code of `image` in place and records each rewritten pc;
  /// returns how many instructions changed. The table accumulates over calls.
  size_t rewrite(GuestImage& image);

  /// The CSR that the instruction at `pc` named before rewrite(), or nullopt if it was not
  /// rewritten (a real `time` access, or any other instruction).
  std::optional<uint16_t> original_csr(uint64_t pc) const;

  /// How many instructions have been rewritten.
  size_t size() const { return table_.size(); }

 private:
  size_t rewrite(ElfSegment& segment, const AddressRange& code);

  std::unordered_map<uint64_t, uint16_t> table_;  // guest pc -> original CSR number
};

}  // namespace vmft::hypervisor
