#include <elf.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "vmft/hypervisor/ElfLoader.h"

#ifndef VMFT_GUEST_DIR
#error "VMFT_GUEST_DIR must name the directory of the built test guests (a string literal)"
#endif

namespace vmft::hypervisor {
namespace {

constexpr uint64_t kRamBase = 0x80000000;
constexpr uint64_t kRamSize = 16 << 20;
constexpr uint64_t kCodeOffset = 0x1000;
constexpr uint64_t kCodeSize = 0x100;
constexpr uint64_t kDataOffset = kCodeOffset + kCodeSize;
constexpr uint64_t kDataFileSize = 0x20;
constexpr uint64_t kDataAddress = kRamBase + 0x1000;
constexpr uint64_t kDataMemSize = 0x1000;

// A valid guest image in pieces: each test changes one field, then asks for the bytes.
// Segment 0 is code (R+X) at the RAM base, segment 1 data (R+W) with a zero-filled tail.
struct TestElf {
  Elf64_Ehdr header{};
  std::vector<Elf64_Phdr> segments;
  std::vector<uint8_t> code = std::vector<uint8_t>(kCodeSize, 0x13);  // 0x13: start of a nop
  std::vector<uint8_t> data = std::vector<uint8_t>(kDataFileSize, 0xd5);

  TestElf() {
    std::memcpy(header.e_ident, ELFMAG, SELFMAG);
    header.e_ident[EI_CLASS] = ELFCLASS64;
    header.e_ident[EI_DATA] = ELFDATA2LSB;
    header.e_ident[EI_VERSION] = EV_CURRENT;
    header.e_type = ET_EXEC;
    header.e_machine = EM_RISCV;
    header.e_version = EV_CURRENT;
    header.e_entry = kRamBase;
    header.e_phoff = sizeof(Elf64_Ehdr);
    header.e_ehsize = sizeof(Elf64_Ehdr);
    header.e_phentsize = sizeof(Elf64_Phdr);
    segments.push_back(load_segment(kCodeOffset, kRamBase, kCodeSize, kCodeSize, PF_R | PF_X));
    segments.push_back(
        load_segment(kDataOffset, kDataAddress, kDataFileSize, kDataMemSize, PF_R | PF_W));
  }

  static Elf64_Phdr load_segment(uint64_t offset, uint64_t vaddr, uint64_t file_size,
                                 uint64_t mem_size, uint32_t flags) {
    Elf64_Phdr phdr{};
    phdr.p_type = PT_LOAD;
    phdr.p_flags = flags;
    phdr.p_offset = offset;
    phdr.p_vaddr = vaddr;
    phdr.p_paddr = vaddr;
    phdr.p_filesz = file_size;
    phdr.p_memsz = mem_size;
    phdr.p_align = 0x1000;
    return phdr;
  }

  std::vector<uint8_t> bytes() const {
    std::vector<uint8_t> file(kDataOffset + kDataFileSize);
    Elf64_Ehdr out = header;
    out.e_phnum = static_cast<Elf64_Half>(segments.size());
    std::memcpy(file.data(), &out, sizeof out);
    for (size_t i = 0; i < segments.size(); ++i) {
      std::memcpy(file.data() + sizeof out + i * sizeof(Elf64_Phdr), &segments[i],
                  sizeof(Elf64_Phdr));
    }
    std::memcpy(file.data() + kCodeOffset, code.data(), code.size());
    std::memcpy(file.data() + kDataOffset, data.data(), data.size());
    return file;
  }
};

GuestImage parse(const std::vector<uint8_t>& file) {
  return parse_elf(file, "guest.elf", kRamBase, kRamSize);
}

// Passes when parsing throws an ElfError whose message names the file and contains `problem`.
::testing::AssertionResult Refused(const std::vector<uint8_t>& file, const std::string& problem) {
  try {
    parse(file);
  } catch (const ElfError& error) {
    std::string message = error.what();
    if (message.rfind("guest.elf: ", 0) == 0 && message.find(problem) != std::string::npos) {
      return ::testing::AssertionSuccess();
    }
    return ::testing::AssertionFailure()
           << "message \"" << message << "\" does not name guest.elf and \"" << problem << "\"";
  }
  return ::testing::AssertionFailure() << "accepted; expected refusal with \"" << problem << "\"";
}

std::string load_error(const std::filesystem::path& path) {
  try {
    load_elf_file(path, kRamBase, kRamSize);
  } catch (const ElfError& error) {
    return error.what();
  }
  return "(accepted)";
}

TEST(ElfLoader, LoadsValidGuest) {
  TestElf elf;
  GuestImage image = parse(elf.bytes());

  EXPECT_EQ(image.entry, kRamBase);
  ASSERT_EQ(image.segments.size(), 2u);
  EXPECT_EQ(image.segments[0].vaddr, kRamBase);
  EXPECT_EQ(image.segments[0].mem_size, kCodeSize);
  EXPECT_TRUE(image.segments[0].executable);
  EXPECT_EQ(image.segments[0].bytes, elf.code);
  EXPECT_EQ(image.segments[1].vaddr, kDataAddress);
  EXPECT_EQ(image.segments[1].mem_size, kDataMemSize);
  EXPECT_FALSE(image.segments[1].executable);
  EXPECT_EQ(image.segments[1].bytes, elf.data);
}

TEST(ElfLoader, SortsSegmentsByAddress) {
  TestElf elf;
  std::swap(elf.segments[0], elf.segments[1]);
  GuestImage image = parse(elf.bytes());

  ASSERT_EQ(image.segments.size(), 2u);
  EXPECT_EQ(image.segments[0].vaddr, kRamBase);
  EXPECT_EQ(image.segments[1].vaddr, kDataAddress);
}

TEST(ElfLoader, IgnoresNonLoadSegments) {
  TestElf elf;
  Elf64_Phdr stack{};
  stack.p_type = PT_GNU_STACK;
  stack.p_vaddr = 0xdead0000;
  stack.p_memsz = 0x100000;
  elf.segments.push_back(stack);

  EXPECT_EQ(parse(elf.bytes()).segments.size(), 2u);
}

TEST(ElfLoader, PlacesSegmentsByVirtualAddress) {
  TestElf elf;
  elf.segments[0].p_paddr = 0;
  EXPECT_EQ(parse(elf.bytes()).segments[0].vaddr, kRamBase);
}

TEST(ElfLoader, RefusesEmptyFile) { EXPECT_TRUE(Refused({}, "truncated ELF header")); }

TEST(ElfLoader, RefusesTruncatedFile) {
  std::vector<uint8_t> file = TestElf().bytes();
  file.resize(40);
  EXPECT_TRUE(Refused(file, "truncated ELF header: the file has 40 bytes, the header needs 64"));
}

TEST(ElfLoader, RefusesNonElfFile) {
  std::string text = "#!/bin/sh\necho this is a shell script, not a guest\n";
  EXPECT_TRUE(Refused({text.begin(), text.end()}, "not an ELF file"));
}

TEST(ElfLoader, RefusesShortNonElfFile) { EXPECT_TRUE(Refused({'h', 'i'}, "not an ELF file")); }

TEST(ElfLoader, Refuses32BitElf) {
  TestElf elf;
  elf.header.e_ident[EI_CLASS] = ELFCLASS32;
  EXPECT_TRUE(Refused(elf.bytes(), "32-bit ELF; vmft runs RV64 guests"));
}

TEST(ElfLoader, RefusesBigEndianElf) {
  TestElf elf;
  elf.header.e_ident[EI_DATA] = ELFDATA2MSB;
  EXPECT_TRUE(Refused(elf.bytes(), "big-endian"));
}

TEST(ElfLoader, RefusesWrongMachine) {
  TestElf elf;
  elf.header.e_machine = EM_X86_64;
  EXPECT_TRUE(Refused(elf.bytes(), "machine is x86-64 (62), expected RISC-V (243)"));
}

TEST(ElfLoader, RefusesPositionIndependentExecutable) {
  TestElf elf;
  elf.header.e_type = ET_DYN;
  EXPECT_TRUE(Refused(elf.bytes(), "(ET_DYN)"));
}

TEST(ElfLoader, RefusesObjectFile) {
  TestElf elf;
  elf.header.e_type = ET_REL;
  EXPECT_TRUE(Refused(elf.bytes(), "relocatable object file (ET_REL)"));
}

TEST(ElfLoader, RefusesCompressedInstructions) {
  TestElf elf;
  elf.header.e_flags = EF_RISCV_RVC;
  EXPECT_TRUE(Refused(elf.bytes(),
                      "built with the C extension (e_flags 0x1); vmft guests must be "
                      "built with -march=rv64im_zicsr (no C)"));
}

TEST(ElfLoader, RefusesHardFloatAbi) {
  TestElf elf;
  elf.header.e_flags = EF_RISCV_FLOAT_ABI_DOUBLE;
  EXPECT_TRUE(Refused(elf.bytes(), "uses the double-float ABI (e_flags 0x4)"));
}

TEST(ElfLoader, RefusesProgramHeaderTableOutsideFile) {
  TestElf elf;
  elf.header.e_phoff = 0x10f0;
  EXPECT_TRUE(Refused(elf.bytes(),
                      "program header table at offset 0x10f0 size 0x70 runs past the "
                      "end of the file (size 0x1120)"));
}

TEST(ElfLoader, RefusesProgramHeaderTableOffsetThatOverflows) {
  TestElf elf;
  elf.header.e_phoff = ~uint64_t{0} - 8;
  EXPECT_TRUE(Refused(elf.bytes(), "program header table at offset 0xfffffffffffffff7"));
}

TEST(ElfLoader, RefusesSegmentWithMoreFileBytesThanMemory) {
  TestElf elf;
  elf.segments[1].p_memsz = 0x10;
  EXPECT_TRUE(
      Refused(elf.bytes(), "segment 1 has more file bytes (0x20) than memory bytes (0x10)"));
}

TEST(ElfLoader, RefusesSegmentDataPastEndOfFile) {
  std::vector<uint8_t> file = TestElf().bytes();
  file.resize(file.size() - 1);
  EXPECT_TRUE(Refused(file,
                      "segment 1 data at offset 0x1100 size 0x20 runs past the end of the "
                      "file (size 0x111f)"));
}

TEST(ElfLoader, RefusesSegmentDataOffsetThatOverflows) {
  TestElf elf;
  elf.segments[1].p_offset = ~uint64_t{0} - 0x10;
  EXPECT_TRUE(Refused(elf.bytes(),
                      "segment 1 data at offset 0xffffffffffffffef size 0x20 runs "
                      "past the end of the file"));
}

TEST(ElfLoader, RefusesSegmentOutsideRam) {
  TestElf elf;
  elf.segments[1].p_vaddr = 0x1000;
  EXPECT_TRUE(Refused(elf.bytes(),
                      "segment 1 at 0x1000 size 0x1000 lies outside RAM (base "
                      "0x80000000 size 0x1000000)"));
}

TEST(ElfLoader, RefusesSegmentRunningPastEndOfRam) {
  TestElf elf;
  elf.segments[1].p_vaddr = kRamBase + kRamSize - 0x800;
  EXPECT_TRUE(Refused(elf.bytes(), "segment 1 at 0x80fff800 size 0x1000 lies outside RAM"));
}

TEST(ElfLoader, RefusesSegmentWhoseEndOverflows) {
  TestElf elf;
  elf.segments[1].p_memsz = 0xffffffff80000000;  // vaddr + memsz wraps around to 0x1000
  EXPECT_TRUE(Refused(elf.bytes(),
                      "segment 1 at 0x80001000 size 0xffffffff80000000 lies outside "
                      "RAM"));
}

TEST(ElfLoader, RefusesOverlappingSegments) {
  TestElf elf;
  elf.segments[1].p_vaddr = kRamBase + kCodeSize - 4;
  EXPECT_TRUE(Refused(elf.bytes(),
                      "segments 0 (at 0x80000000 size 0x100) and 1 (at 0x800000fc "
                      "size 0x1000) overlap"));
}

TEST(ElfLoader, AcceptsAdjacentSegments) {
  TestElf elf;
  elf.segments[1].p_vaddr = kRamBase + kCodeSize;
  EXPECT_EQ(parse(elf.bytes()).segments.size(), 2u);
}

TEST(ElfLoader, RefusesImageWithoutLoadSegment) {
  TestElf elf;
  for (Elf64_Phdr& phdr : elf.segments) phdr.p_type = PT_NOTE;
  EXPECT_TRUE(Refused(elf.bytes(), "no loadable (PT_LOAD) segment"));
}

TEST(ElfLoader, RefusesDynamicallyLinkedExecutable) {
  TestElf elf;
  elf.segments[1].p_type = PT_INTERP;
  EXPECT_TRUE(Refused(elf.bytes(), "segment 1 asks for a dynamic linker (PT_INTERP)"));
}

TEST(ElfLoader, RefusesEntryOutsideExecutableSegment) {
  TestElf elf;
  elf.header.e_entry = kDataAddress;
  EXPECT_TRUE(Refused(elf.bytes(),
                      "entry point 0x80001000 is not inside an executable (PF_X) "
                      "loaded segment"));
}

TEST(ElfLoader, RefusesEntryInZeroFilledPartOfSegment) {
  TestElf elf;
  elf.segments[0].p_memsz = 2 * kCodeSize;
  elf.header.e_entry = kRamBase + kCodeSize;
  EXPECT_TRUE(
      Refused(elf.bytes(), "entry point 0x80000100 is in the zero-filled part of segment 0"));
}

TEST(ElfLoader, RefusesMisalignedEntry) {
  TestElf elf;
  elf.header.e_entry = kRamBase + 2;
  EXPECT_TRUE(Refused(elf.bytes(), "entry point 0x80000002 is not 4-byte aligned"));
}

TEST(ElfLoader, LoadsBuiltGuest) {
  std::filesystem::path path = std::filesystem::path(VMFT_GUEST_DIR) / "echo.elf";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: build the guests first";
  GuestImage image = load_elf_file(path, kRamBase, kRamSize);

  ASSERT_FALSE(image.segments.empty());
  bool entry_in_code = false;
  for (const ElfSegment& segment : image.segments) {
    EXPECT_GE(segment.vaddr, kRamBase);
    EXPECT_LE(segment.vaddr + segment.mem_size, kRamBase + kRamSize);
    entry_in_code |= segment.executable && image.entry >= segment.vaddr &&
                     image.entry < segment.vaddr + segment.bytes.size();
  }
  EXPECT_TRUE(entry_in_code);
}

// The code is the built guest's .text: inside an executable segment, holding the entry, and
// not its .rodata (which the linker script puts in a segment of its own).
TEST(ElfLoader, FindsTheCodeOfABuiltGuest) {
  std::filesystem::path path = std::filesystem::path(VMFT_GUEST_DIR) / "lookalikes.elf";
  ASSERT_TRUE(std::filesystem::exists(path)) << path << " is missing: build the guests first";
  GuestImage image = load_elf_file(path, kRamBase, kRamSize);

  ASSERT_FALSE(image.code.empty());
  bool entry_in_code = false;
  for (const AddressRange& code : image.code) {
    entry_in_code |= image.entry >= code.begin && image.entry < code.end;
    bool in_executable_segment = false;
    for (const ElfSegment& segment : image.segments) {
      in_executable_segment |= segment.executable && code.begin >= segment.vaddr &&
                               code.end <= segment.vaddr + segment.bytes.size();
    }
    EXPECT_TRUE(in_executable_segment) << std::hex << code.begin << "-" << code.end;
  }
  EXPECT_TRUE(entry_in_code);
  size_t not_executable = 0;
  for (const ElfSegment& segment : image.segments) not_executable += !segment.executable;
  EXPECT_GE(not_executable, 2u) << "rodata and data each in a segment of their own";
}

TEST(ElfLoader, RefusesHostBinaryNamingItsMachine) {
  std::string message = load_error("/bin/true");
  EXPECT_EQ(message.rfind("/bin/true: machine is ", 0), 0u) << message;
  EXPECT_NE(message.find("expected RISC-V (243)"), std::string::npos) << message;
#if defined(__x86_64__)
  EXPECT_NE(message.find("machine is x86-64 (62)"), std::string::npos) << message;
#endif
}

TEST(ElfLoader, ReportsMissingFile) {
  std::string message = load_error("/nonexistent/vmft/guest.elf");
  EXPECT_EQ(message, "/nonexistent/vmft/guest.elf: No such file or directory");
}

TEST(ElfLoader, RefusesDirectory) {
  std::string message = load_error("/");
  EXPECT_EQ(message, "/: not a regular file");
}

}  // namespace
}  // namespace vmft::hypervisor
