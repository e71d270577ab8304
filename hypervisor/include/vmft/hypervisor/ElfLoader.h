#pragma once

#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmft::hypervisor {

/// A guest image could not be loaded; what() names the file and the problem.
class ElfError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One PT_LOAD segment: `bytes` go at `vaddr`, the rest up to `mem_size` is zero.
struct ElfSegment {
  uint64_t vaddr = 0;
  uint64_t mem_size = 0;
  bool executable = false;
  std::vector<uint8_t> bytes;
};

/// Guest addresses [begin, end).
struct AddressRange {
  uint64_t begin = 0;
  uint64_t end = 0;
};

/// A validated RISC-V guest: its segments are sorted by address, lie inside RAM and do not
/// overlap; the entry is 4-byte aligned and inside the file bytes of an executable segment.
struct GuestImage {
  uint64_t entry = 0;
  std::vector<ElfSegment> segments;
  /// Where the code is, sorted: the allocated sections marked executable (SHF_EXECINSTR), or,
  /// in a file without section headers, every executable segment's file bytes. Data that an
  /// executable segment also holds (a linker script that puts .rodata with .text) is not code.
  std::vector<AddressRange> code;
};

/// Parses and validates an ELF64 little-endian RISC-V executable for a RAM of `ram_size`
/// bytes at `ram_base`; segments are placed by p_vaddr. Throws ElfError, whose message starts
/// with `name`, for: not an ELF file; wrong class, endianness, type or machine; a guest built
/// with the C extension or a float ABI; a truncated file; a segment outside RAM or overlapping
/// another; no PT_LOAD segment; an entry point outside every executable segment; a section
/// header table that runs past the end of the file.
/// Pure function of its arguments; safe to call from any thread.
GuestImage parse_elf(std::span<const uint8_t> file, const std::string& name, uint64_t ram_base,
                     uint64_t ram_size);

/// Reads `path` and parses it as parse_elf does, with the path as the name; a missing or
/// unreadable file is an ElfError too, carrying strerror's text.
GuestImage load_elf_file(const std::filesystem::path& path, uint64_t ram_base, uint64_t ram_size);

}  // namespace vmft::hypervisor
