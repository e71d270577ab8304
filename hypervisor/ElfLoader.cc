#include "vmft/hypervisor/ElfLoader.h"

#include <elf.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <type_traits>

namespace vmft::hypervisor {
namespace {

// Guest images are at most a RAM's worth of code and data plus debug info. A larger file is a
// wrong path, and reading it whole would only exhaust host memory before parse_elf refused it.
constexpr uint64_t kMaxElfFileSize = uint64_t{1} << 30;

// Headers are copied out of the file with memcpy, never cast in place: the program header
// and section header tables may sit at any offset, so a cast could be misaligned.
static_assert(std::is_trivially_copyable_v<Elf64_Ehdr> &&
              std::is_trivially_copyable_v<Elf64_Phdr> && std::is_trivially_copyable_v<Elf64_Shdr>);

[[noreturn]] void refuse(const std::string& name, const std::string& problem) {
  throw ElfError(name + ": " + problem);
}

std::string hex(uint64_t value) {
  char digits[16];
  char* end = std::to_chars(digits, digits + sizeof digits, value, 16).ptr;
  return "0x" + std::string(digits, end);
}

std::string dec(uint64_t value) { return std::to_string(value); }

// The caller has checked that [offset, offset + sizeof(T)) lies inside the file.
template <typename T>
T read_at(std::span<const uint8_t> file, uint64_t offset) {
  T value;
  std::memcpy(&value, file.data() + offset, sizeof(T));
  return value;
}

// True when [offset, offset + size) lies inside a file of `file_size` bytes, without overflow.
bool inside_file(uint64_t offset, uint64_t size, uint64_t file_size) {
  return offset <= file_size && size <= file_size - offset;
}

std::string machine_name(uint16_t machine) {
  switch (machine) {
    case EM_386: return "i386";
    case EM_ARM: return "ARM";
    case EM_X86_64: return "x86-64";
    case EM_AARCH64: return "AArch64";
    case EM_RISCV: return "RISC-V";
    case EM_PPC: return "PowerPC";
    case EM_PPC64: return "PowerPC64";
    case EM_MIPS: return "MIPS";
    case EM_S390: return "s390";
    case EM_SPARCV9: return "SPARC V9";
    case EM_LOONGARCH: return "LoongArch";
    case EM_NONE: return "none";
    default: return "unknown";
  }
}

std::string float_abi_name(uint32_t flags) {
  switch (flags & EF_RISCV_FLOAT_ABI) {
    case EF_RISCV_FLOAT_ABI_SINGLE: return "single-float";
    case EF_RISCV_FLOAT_ABI_DOUBLE: return "double-float";
    default: return "quad-float";
  }
}

// e_ident is checked byte by byte before the full header is required, so that a short file
// that is no ELF at all, or a 32-bit one (whose header is shorter), is called what it is.
void check_ident(std::span<const uint8_t> file, const std::string& name) {
  if (file.empty()) refuse(name, "truncated ELF header: the file is empty");
  size_t magic_bytes = std::min<size_t>(file.size(), SELFMAG);
  if (std::memcmp(file.data(), ELFMAG, magic_bytes) != 0) refuse(name, "not an ELF file");
  if (file.size() < EI_NIDENT) {
    refuse(name, "truncated ELF header: the file has " + dec(file.size()) + " bytes");
  }
  if (file[EI_CLASS] == ELFCLASS32) refuse(name, "32-bit ELF; vmft runs RV64 guests");
  if (file[EI_CLASS] != ELFCLASS64) {
    refuse(name, "unknown ELF class " + dec(file[EI_CLASS]) + "; vmft runs RV64 guests");
  }
  if (file[EI_DATA] == ELFDATA2MSB) refuse(name, "big-endian ELF; RISC-V guests are little-endian");
  if (file[EI_DATA] != ELFDATA2LSB) {
    refuse(name, "unknown ELF data encoding " + dec(file[EI_DATA]));
  }
  if (file[EI_VERSION] != EV_CURRENT) refuse(name, "unknown ELF version " + dec(file[EI_VERSION]));
  if (file.size() < sizeof(Elf64_Ehdr)) {
    refuse(name, "truncated ELF header: the file has " + dec(file.size()) +
                     " bytes, the header needs " + dec(sizeof(Elf64_Ehdr)));
  }
}

// The machine comes before the type: a host binary is usually a PIE (ET_DYN), and the useful
// thing to say about it is that it was built for the wrong machine.
void check_machine_and_type(const Elf64_Ehdr& header, const std::string& name) {
  if (header.e_machine != EM_RISCV) {
    refuse(name, "machine is " + machine_name(header.e_machine) + " (" + dec(header.e_machine) +
                     "), expected RISC-V (" + dec(EM_RISCV) + ")");
  }
  if (header.e_type == ET_DYN) {
    refuse(name,
           "position-independent executable or shared object (ET_DYN); vmft guests are "
           "static executables (ET_EXEC) linked at their RAM address");
  }
  if (header.e_type == ET_REL) {
    refuse(name, "relocatable object file (ET_REL); link it into an executable first");
  }
  if (header.e_type != ET_EXEC) {
    refuse(name, "ELF type " + dec(header.e_type) + " is not an executable (ET_EXEC)");
  }
}

// vmft guests are RV64IM + Zicsr (DESIGN.md): instruction counting assumes every instruction
// is 4 bytes, and a float ABI passes values in F/D registers that vmft does not provide.
void check_riscv_flags(const Elf64_Ehdr& header, const std::string& name) {
  uint32_t flags = header.e_flags;
  if (flags & EF_RISCV_RVC) {
    refuse(name, "built with the C extension (e_flags " + hex(flags) +
                     "); vmft guests must be built with -march=rv64im_zicsr (no C)");
  }
  if (flags & EF_RISCV_FLOAT_ABI) {
    refuse(name, "uses the " + float_abi_name(flags) + " ABI (e_flags " + hex(flags) +
                     "); vmft guests must be built with -mabi=lp64 (soft float)");
  }
  if (flags & EF_RISCV_RVE) {
    refuse(name, "built for the RV64E base (e_flags " + hex(flags) + "); vmft runs RV64I guests");
  }
}

std::vector<Elf64_Phdr> read_program_headers(std::span<const uint8_t> file,
                                             const Elf64_Ehdr& header, const std::string& name) {
  if (header.e_phnum == 0) return {};
  if (header.e_phnum == PN_XNUM) {
    refuse(name, "extended program header numbering (e_phnum 0xffff) is not supported");
  }
  if (header.e_phentsize != sizeof(Elf64_Phdr)) {
    refuse(name, "program header entry size is " + dec(header.e_phentsize) + " bytes, expected " +
                     dec(sizeof(Elf64_Phdr)));
  }
  uint64_t table_size = uint64_t{header.e_phnum} * sizeof(Elf64_Phdr);
  if (!inside_file(header.e_phoff, table_size, file.size())) {
    refuse(name, "program header table at offset " + hex(header.e_phoff) + " size " +
                     hex(table_size) + " runs past the end of the file (size " + hex(file.size()) +
                     ")");
  }
  std::vector<Elf64_Phdr> headers;
  headers.reserve(header.e_phnum);
  for (uint64_t i = 0; i < header.e_phnum; ++i) {
    headers.push_back(read_at<Elf64_Phdr>(file, header.e_phoff + i * sizeof(Elf64_Phdr)));
  }
  return headers;
}

void check_segment_in_file(const Elf64_Phdr& phdr, size_t index, uint64_t file_size,
                           const std::string& name) {
  std::string segment = "segment " + dec(index);
  if (phdr.p_filesz > phdr.p_memsz) {
    refuse(name, segment + " has more file bytes (" + hex(phdr.p_filesz) + ") than memory bytes (" +
                     hex(phdr.p_memsz) + ")");
  }
  if (!inside_file(phdr.p_offset, phdr.p_filesz, file_size)) {
    refuse(name, segment + " data at offset " + hex(phdr.p_offset) + " size " + hex(phdr.p_filesz) +
                     " runs past the end of the file (size " + hex(file_size) + ")");
  }
}

// Compares offsets from ram_base, so that neither vaddr + memsz nor ram_base + ram_size can
// overflow.
void check_segment_in_ram(const Elf64_Phdr& phdr, size_t index, uint64_t ram_base,
                          uint64_t ram_size, const std::string& name) {
  bool inside = phdr.p_vaddr >= ram_base && phdr.p_memsz <= ram_size &&
                phdr.p_vaddr - ram_base <= ram_size - phdr.p_memsz;
  if (!inside) {
    refuse(name, "segment " + dec(index) + " at " + hex(phdr.p_vaddr) + " size " +
                     hex(phdr.p_memsz) + " lies outside RAM (base " + hex(ram_base) + " size " +
                     hex(ram_size) + ")");
  }
}

// A loaded segment and the index of its program header, for error messages.
struct IndexedSegment {
  size_t index;
  ElfSegment segment;
};

std::vector<IndexedSegment> load_segments(std::span<const uint8_t> file,
                                          const std::vector<Elf64_Phdr>& phdrs, uint64_t ram_base,
                                          uint64_t ram_size, const std::string& name) {
  std::vector<IndexedSegment> loaded;
  for (size_t i = 0; i < phdrs.size(); ++i) {
    const Elf64_Phdr& phdr = phdrs[i];
    if (phdr.p_type == PT_INTERP) {
      refuse(name, "segment " + dec(i) +
                       " asks for a dynamic linker (PT_INTERP); vmft guests are linked -static");
    }
    // An empty PT_LOAD puts nothing in memory, wherever it claims to be.
    if (phdr.p_type != PT_LOAD || phdr.p_memsz == 0) continue;
    check_segment_in_file(phdr, i, file.size(), name);
    check_segment_in_ram(phdr, i, ram_base, ram_size, name);
    std::span<const uint8_t> data = file.subspan(phdr.p_offset, phdr.p_filesz);
    loaded.push_back({i,
                      {.vaddr = phdr.p_vaddr,
                       .mem_size = phdr.p_memsz,
                       .executable = (phdr.p_flags & PF_X) != 0,
                       .bytes = {data.begin(), data.end()}}});
  }
  if (loaded.empty()) refuse(name, "no loadable (PT_LOAD) segment");
  return loaded;
}

// Sorts by address and refuses two segments that share a byte. Every segment is inside RAM
// already, so its end taken as an offset from ram_base cannot overflow.
void sort_and_check_overlap(std::vector<IndexedSegment>& loaded, uint64_t ram_base,
                            const std::string& name) {
  std::sort(loaded.begin(), loaded.end(), [](const IndexedSegment& a, const IndexedSegment& b) {
    return a.segment.vaddr < b.segment.vaddr;
  });
  for (size_t i = 1; i < loaded.size(); ++i) {
    const ElfSegment& previous = loaded[i - 1].segment;
    const ElfSegment& current = loaded[i].segment;
    if (previous.vaddr - ram_base + previous.mem_size > current.vaddr - ram_base) {
      refuse(name, "segments " + dec(loaded[i - 1].index) + " (at " + hex(previous.vaddr) +
                       " size " + hex(previous.mem_size) + ") and " + dec(loaded[i].index) +
                       " (at " + hex(current.vaddr) + " size " + hex(current.mem_size) +
                       ") overlap");
    }
  }
}

// The entry must be an instruction from the file: the zero-filled tail of a segment holds no
// code, and without the C extension every instruction is 4-byte aligned.
void check_entry(uint64_t entry, const std::vector<IndexedSegment>& loaded,
                 const std::string& name) {
  if (entry % 4 != 0) refuse(name, "entry point " + hex(entry) + " is not 4-byte aligned");
  for (const IndexedSegment& item : loaded) {
    const ElfSegment& segment = item.segment;
    if (!segment.executable || entry < segment.vaddr) continue;
    uint64_t offset = entry - segment.vaddr;
    if (offset < segment.bytes.size()) return;
    if (offset < segment.mem_size) {
      refuse(name, "entry point " + hex(entry) + " is in the zero-filled part of segment " +
                       dec(item.index) + ", past its file bytes");
    }
  }
  refuse(name, "entry point " + hex(entry) + " is not inside an executable (PF_X) loaded segment");
}

// The executable sections' addresses, clipped to the executable segments' file bytes (only
// those are loaded as code). Without a section header table, the segments themselves.
std::vector<AddressRange> find_code(std::span<const uint8_t> file, const Elf64_Ehdr& header,
                                    const std::vector<IndexedSegment>& loaded,
                                    const std::string& name) {
  std::vector<AddressRange> sections;
  if (header.e_shoff == 0 || header.e_shnum == 0) {
    for (const IndexedSegment& item : loaded) {
      const ElfSegment& segment = item.segment;
      if (!segment.executable) continue;
      sections.push_back({segment.vaddr, segment.vaddr + segment.bytes.size()});
    }
    return sections;
  }
  if (header.e_shentsize != sizeof(Elf64_Shdr)) {
    refuse(name, "section header entry size is " + dec(header.e_shentsize) + " bytes, expected " +
                     dec(sizeof(Elf64_Shdr)));
  }
  const uint64_t table_size = uint64_t{header.e_shnum} * sizeof(Elf64_Shdr);
  if (!inside_file(header.e_shoff, table_size, file.size())) {
    refuse(name, "section header table at offset " + hex(header.e_shoff) + " size " +
                     hex(table_size) + " runs past the end of the file (size " + hex(file.size()) +
                     ")");
  }
  for (uint64_t i = 0; i < header.e_shnum; ++i) {
    const auto shdr = read_at<Elf64_Shdr>(file, header.e_shoff + i * sizeof(Elf64_Shdr));
    if ((shdr.sh_flags & (SHF_ALLOC | SHF_EXECINSTR)) != (SHF_ALLOC | SHF_EXECINSTR)) continue;
    if (shdr.sh_type == SHT_NOBITS || shdr.sh_size == 0) continue;
    for (const IndexedSegment& item : loaded) {
      const ElfSegment& segment = item.segment;
      if (!segment.executable) continue;
      // Both ranges lie in RAM or are compared as such: no sum below can overflow unless the
      // section claims more than 2^64 bytes, which the min() clips.
      const uint64_t begin = std::max(shdr.sh_addr, segment.vaddr);
      const uint64_t section_end =
          shdr.sh_size > UINT64_MAX - shdr.sh_addr ? UINT64_MAX : shdr.sh_addr + shdr.sh_size;
      const uint64_t end = std::min(section_end, segment.vaddr + segment.bytes.size());
      if (begin < end) sections.push_back({begin, end});
    }
  }
  std::sort(sections.begin(), sections.end(),
            [](const AddressRange& a, const AddressRange& b) { return a.begin < b.begin; });
  return sections;
}

// Reads the whole file; an I/O failure is an ElfError naming the file and strerror.
std::vector<uint8_t> read_file(const std::filesystem::path& path, const std::string& name) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) refuse(name, std::strerror(errno));
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};

  struct stat info {};
  if (::fstat(fd, &info) != 0) refuse(name, std::strerror(errno));
  if (!S_ISREG(info.st_mode)) refuse(name, "not a regular file");
  if (static_cast<uint64_t>(info.st_size) > kMaxElfFileSize) {
    refuse(name, "the file has " + dec(info.st_size) + " bytes; a guest image has at most " +
                     dec(kMaxElfFileSize));
  }
  std::vector<uint8_t> bytes(static_cast<size_t>(info.st_size));
  size_t done = 0;
  while (done < bytes.size()) {
    ssize_t n = ::read(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) refuse(name, std::strerror(errno));
    if (n == 0) break;  // The file shrank since fstat: parse what is there.
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace

GuestImage parse_elf(std::span<const uint8_t> file, const std::string& name, uint64_t ram_base,
                     uint64_t ram_size) {
  check_ident(file, name);
  auto header = read_at<Elf64_Ehdr>(file, 0);
  check_machine_and_type(header, name);
  check_riscv_flags(header, name);
  std::vector<Elf64_Phdr> phdrs = read_program_headers(file, header, name);
  std::vector<IndexedSegment> loaded = load_segments(file, phdrs, ram_base, ram_size, name);
  sort_and_check_overlap(loaded, ram_base, name);
  check_entry(header.e_entry, loaded, name);

  GuestImage image{
      .entry = header.e_entry, .segments = {}, .code = find_code(file, header, loaded, name)};
  image.segments.reserve(loaded.size());
  for (IndexedSegment& item : loaded) image.segments.push_back(std::move(item.segment));
  return image;
}

GuestImage load_elf_file(const std::filesystem::path& path, uint64_t ram_base, uint64_t ram_size) {
  std::string name = path.string();
  return parse_elf(read_file(path, name), name, ram_base, ram_size);
}

}  // namespace vmft::hypervisor
