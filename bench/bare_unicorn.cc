// vmft-bench-bare: the baseline for bench/ ratios. Runs a guest on bare Unicorn, with none of
// vmft's machinery: no block hook, no instruction counting, no devices, no log.
//
// The one hook is UC_HOOK_INTR, which Unicorn calls only when the guest raises an exception,
// never per instruction or per block, so it does not change translated code or its speed.
// It is needed because an unhooked `ecall` ends uc_emu_start with UC_ERR_EXCEPTION; with it the
// guest can print (VMFT_HC_CONSOLE_WRITE) and exit (VMFT_HC_EXIT) as it does under vmft.
// Guests for this runner must not touch MMIO devices or read the time/cycle CSRs.
//
// With --block-hook it adds the least an exact instruction count costs on Unicorn: a block
// hook that only adds up the instructions. Unicorn calls it from the translated code, which
// must first store every guest register it holds in a host register; that, not what a hook
// does, is most of the cost, so this is the ceiling for anything that counts with hooks.

#include <sys/mman.h>
#include <unicorn/unicorn.h>

#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>

#include "vmft/guest/abi.h"
#include "vmft/hypervisor/ElfLoader.h"

namespace vmft::bench {
namespace {

// 64 MiB, as vmft gives guests by default; link.ld needs at least 16 MiB.
constexpr uint64_t kRamBase = VMFT_RAM_BASE;
constexpr uint64_t kRamSize = 64ULL << 20;
constexpr uint32_t kIntnoEcall = 8;
constexpr int kSetupFailed = 2;
constexpr int kGuestFailed = 70;  // EX_SOFTWARE, as `vmft run` exits when the guest faults

// What the guest did when emulation stopped; written only by the INTR hook.
struct GuestState {
  uint8_t* ram = nullptr;
  bool exited = false;
  int exit_code = 0;
  bool faulted = false;
  uint32_t fault_intno = 0;
  uint64_t fault_a7 = 0;
};

bool in_ram(uint64_t addr, uint64_t len) {
  return addr >= kRamBase && len <= kRamSize && addr - kRamBase <= kRamSize - len;
}

void handle_hypercall(uc_engine* uc, GuestState& state) {
  uint64_t number = 0, a0 = 0, a1 = 0;
  uc_reg_read(uc, UC_RISCV_REG_A7, &number);
  uc_reg_read(uc, UC_RISCV_REG_A0, &a0);
  uc_reg_read(uc, UC_RISCV_REG_A1, &a1);
  switch (number) {
    case VMFT_HC_EXIT:
      state.exited = true;
      state.exit_code = static_cast<int>(a0);
      uc_emu_stop(uc);
      return;
    case VMFT_HC_CONSOLE_WRITE: {
      uint64_t written = 0;
      if (in_ram(a0, a1)) {
        written = std::fwrite(state.ram + (a0 - kRamBase), 1, a1, stdout);
      }
      uc_reg_write(uc, UC_RISCV_REG_A0, &written);
      return;
    }
    default:
      state.faulted = true;
      state.fault_intno = kIntnoEcall;
      state.fault_a7 = number;
      uc_emu_stop(uc);
      return;
  }
}

// Unicorn has already advanced PC past the ecall when this runs, so returning resumes the guest.
void on_interrupt(uc_engine* uc, uint32_t intno, void* user_data) {
  auto& state = *static_cast<GuestState*>(user_data);
  if (intno == kIntnoEcall) {
    handle_hypercall(uc, state);
    return;
  }
  state.faulted = true;
  state.fault_intno = intno;
  uc_emu_stop(uc);
}

// Fatal setup errors: the baseline cannot be measured, so there is nothing to recover.
void check(uc_err err, const char* what) {
  if (err != UC_ERR_OK) {
    std::fprintf(stderr, "vmft-bench-bare: %s: %s\n", what, uc_strerror(err));
    std::exit(kSetupFailed);
  }
}

// Guest RAM, owned by the host as under vmft (uc_mem_map_ptr), zeroed as the ABI promises.
class GuestRam {
 public:
  GuestRam() {
    void* mapping =
        mmap(nullptr, kRamSize, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mapping == MAP_FAILED) {
      std::perror("vmft-bench-bare: mmap of guest RAM");
      std::exit(kSetupFailed);
    }
    bytes_ = static_cast<uint8_t*>(mapping);
  }
  ~GuestRam() { munmap(bytes_, kRamSize); }
  GuestRam(const GuestRam&) = delete;
  GuestRam& operator=(const GuestRam&) = delete;

  uint8_t* bytes() const { return bytes_; }

  // parse_elf has checked that every segment lies inside RAM.
  void copy_in(const hypervisor::GuestImage& image) {
    for (const hypervisor::ElfSegment& segment : image.segments) {
      std::memcpy(bytes_ + (segment.vaddr - kRamBase), segment.bytes.data(), segment.bytes.size());
    }
  }

 private:
  uint8_t* bytes_ = nullptr;
};

// The --block-hook counter.
void count_block(uc_engine*, uint64_t, uint32_t size, void* user) {
  *static_cast<uint64_t*>(user) += size / 4;
}

uc_engine* open_vcpu(GuestRam& ram, GuestState& state, uint64_t* instructions) {
  uc_engine* uc = nullptr;
  check(uc_open(UC_ARCH_RISCV, UC_MODE_RISCV64, &uc), "uc_open");
  check(uc_mem_map_ptr(uc, kRamBase, kRamSize, UC_PROT_ALL, ram.bytes()), "uc_mem_map_ptr");
  uint64_t a0 = kRamBase, a1 = kRamSize;
  check(uc_reg_write(uc, UC_RISCV_REG_A0, &a0), "write a0");
  check(uc_reg_write(uc, UC_RISCV_REG_A1, &a1), "write a1");
  uc_hook intr_hook;
  check(uc_hook_add(uc, &intr_hook, UC_HOOK_INTR, reinterpret_cast<void*>(&on_interrupt), &state, 1,
                    0),
        "uc_hook_add(UC_HOOK_INTR)");
  if (instructions) {
    uc_hook block_hook;
    check(uc_hook_add(uc, &block_hook, UC_HOOK_BLOCK, reinterpret_cast<void*>(&count_block),
                      instructions, 1, 0),
          "uc_hook_add(UC_HOOK_BLOCK)");
  }
  return uc;
}

// Says why the guest did not exit cleanly; returns whether it did.
bool report_stop(uc_err err, const GuestState& state, uint64_t pc) {
  if (err != UC_ERR_OK) {
    std::fprintf(stderr, "vmft-bench-bare: emulation failed at pc 0x%" PRIx64 ": %s\n", pc,
                 uc_strerror(err));
  } else if (state.faulted && state.fault_intno == kIntnoEcall) {
    std::fprintf(stderr, "vmft-bench-bare: unsupported hypercall %" PRIu64 " at pc 0x%" PRIx64 "\n",
                 state.fault_a7, pc);
  } else if (state.faulted) {
    std::fprintf(stderr, "vmft-bench-bare: guest exception %u at pc 0x%" PRIx64 "\n",
                 state.fault_intno, pc);
  } else if (!state.exited) {
    std::fprintf(stderr, "vmft-bench-bare: emulation stopped without an exit at pc 0x%" PRIx64 "\n",
                 pc);
  }
  return err == UC_ERR_OK && !state.faulted && state.exited;
}

int run(const char* guest_path, bool block_hook) {
  const hypervisor::GuestImage image = hypervisor::load_elf_file(guest_path, kRamBase, kRamSize);
  GuestRam ram;
  ram.copy_in(image);
  GuestState state;
  state.ram = ram.bytes();
  uint64_t instructions = 0;
  uc_engine* uc = open_vcpu(ram, state, block_hook ? &instructions : nullptr);

  // No timeout and no count: either would install machinery that slows the baseline.
  const auto start = std::chrono::steady_clock::now();
  const uc_err err = uc_emu_start(uc, image.entry, 0, 0, 0);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  std::fflush(stdout);

  uint64_t pc = 0;
  uc_reg_read(uc, UC_RISCV_REG_PC, &pc);
  uc_close(uc);
  if (!report_stop(err, state, pc)) return kGuestFailed;

  std::printf("%s: %.3f s\n", block_hook ? "bare with a block hook" : "bare", elapsed.count());
  // Blocks are counted whole when they start; the exit's ecall ends its block.
  if (block_hook) std::printf("%" PRIu64 " instructions\n", instructions);
  std::printf("guest exit code %d\n", state.exit_code);
  return state.exit_code & 0xff;
}

}  // namespace
}  // namespace vmft::bench

int main(int argc, char** argv) {
  const bool block_hook = argc == 3 && std::strcmp(argv[1], "--block-hook") == 0;
  if (argc != 2 && !block_hook) {
    std::fprintf(stderr, "usage: %s [--block-hook] GUEST.elf\n", argv[0]);
    return vmft::bench::kSetupFailed;
  }
  try {
    return vmft::bench::run(argv[argc - 1], block_hook);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmft-bench-bare: %s\n", e.what());
    return vmft::bench::kSetupFailed;
  }
}
