// A guest image as `vmft run` loads it: parse_elf, then the counter rewriter over its code.
#include "CounterRewriter.h"
#include "FuzzTargets.h"
#include "vmft/guest/abi.h"
#include "vmft/hypervisor/ElfLoader.h"

namespace vmft::fuzz {

namespace {

// vmft's default --mem.
constexpr uint64_t kRamSize = 64u << 20;

// What parse_elf promises of an image it returns.
void expect_valid(const hypervisor::GuestImage& image) {
  uint64_t next_free = VMFT_RAM_BASE;
  for (const hypervisor::ElfSegment& segment : image.segments) {
    expect(segment.vaddr >= next_free, "segments overlap or are not sorted");
    expect(segment.bytes.size() <= segment.mem_size, "a segment has more bytes than memory");
    expect(segment.mem_size <= kRamSize &&
               segment.vaddr - VMFT_RAM_BASE <= kRamSize - segment.mem_size,
           "a segment lies outside RAM");
    next_free = segment.vaddr + segment.mem_size;
  }
  expect(image.entry % 4 == 0, "the entry point is not aligned");
}

}  // namespace

void elf_loader(Bytes data) {
  hypervisor::GuestImage image;
  try {
    image = hypervisor::parse_elf(data, "fuzz.elf", VMFT_RAM_BASE, kRamSize);
  } catch (const hypervisor::ElfError&) {
    return;
  }
  expect_valid(image);
  hypervisor::CounterRewriter rewriter;
  rewriter.rewrite(image);
  expect_valid(image);
}

}  // namespace vmft::fuzz
