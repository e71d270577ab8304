#include "CounterRewriter.h"

namespace vmft::hypervisor {
namespace {

constexpr uint32_t kOpcodeSystem = 0x73;
constexpr unsigned kCsrShift = 20;
constexpr uint32_t kCsrFieldMask = 0xFFFu << kCsrShift;

bool is_counter_csr(uint16_t csr) {
  return csr == kCsrCycle || csr == kCsrInstret || csr == kCsrMcycle || csr == kCsrMinstret;
}

// RISC-V instructions are little-endian whatever the host's byte order.
uint32_t load_word(const uint8_t* bytes) {
  return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 |
         uint32_t{bytes[3]} << 24;
}

void store_word(uint8_t* bytes, uint32_t word) {
  for (int i = 0; i < 4; ++i) bytes[i] = static_cast<uint8_t>(word >> (8 * i));
}

uint32_t with_csr(uint32_t word, uint16_t csr) {
  return (word & ~kCsrFieldMask) | uint32_t{csr} << kCsrShift;
}

}  // namespace

std::optional<CsrInstruction> decode_csr_instruction(uint32_t word) {
  unsigned funct3 = (word >> 12) & 0x7;
  // funct3 0 holds ecall, ebreak, mret, wfi; 4 holds the hypervisor loads and stores.
  if ((word & 0x7F) != kOpcodeSystem || funct3 == 0 || funct3 == 4) return std::nullopt;
  return CsrInstruction{.rd = (word >> 7) & 0x1F,
                        .funct3 = funct3,
                        .rs1 = (word >> 15) & 0x1F,
                        .csr = static_cast<uint16_t>(word >> kCsrShift)};
}

size_t CounterRewriter::rewrite(GuestImage& image) {
  size_t rewritten = 0;
  for (ElfSegment& segment : image.segments) {
    if (!segment.executable) continue;
    for (const AddressRange& code : image.code) {
      rewritten += rewrite(segment, code);
    }
  }
  return rewritten;
}

// The counter accesses in the part of `segment` that `code` covers.
size_t CounterRewriter::rewrite(ElfSegment& segment, const AddressRange& code) {
  const uint64_t segment_end = segment.vaddr + segment.bytes.size();
  if (code.end <= segment.vaddr || code.begin >= segment_end) return 0;
  const uint64_t begin = std::max(code.begin, segment.vaddr);
  const uint64_t end = std::min(code.end, segment_end);
  size_t rewritten = 0;
  // Instructions are 4-byte aligned in the guest's address space.
  for (uint64_t address = begin + (4 - begin % 4) % 4; address + 4 <= end; address += 4) {
    uint8_t* bytes = segment.bytes.data() + (address - segment.vaddr);
    std::optional<CsrInstruction> instruction = decode_csr_instruction(load_word(bytes));
    if (!instruction || !is_counter_csr(instruction->csr)) continue;
    store_word(bytes, with_csr(load_word(bytes), kCsrTime));
    table_[address] = instruction->csr;
    ++rewritten;
  }
  return rewritten;
}

std::optional<uint16_t> CounterRewriter::original_csr(uint64_t pc) const {
  auto it = table_.find(pc);
  if (it == table_.end()) return std::nullopt;
  return it->second;
}

}  // namespace vmft::hypervisor
