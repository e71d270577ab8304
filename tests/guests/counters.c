/* Reads every counter and clock source once or twice and prints what it saw, one
   "name=value" per line, so a test with fake host clocks can check each value exactly. */
#include "vmft.h"

static void print(const char *name, uint64_t value) {
  vmft_puts(name);
  vmft_puts("=");
  vmft_print_u64(value);
  vmft_puts("\n");
}

int main(void) {
  uint64_t a, b;
  __asm__ volatile("rdinstret %0\n\trdinstret %1" : "=r"(a), "=r"(b));
  print("instret_delta", b - a);
  print("time1", vmft_rdtime());
  print("time2", vmft_rdtime());
  print("cycle1", vmft_rdcycle());
  uint64_t mcycle;
  __asm__ volatile("csrr %0, mcycle" : "=r"(mcycle));
  print("mcycle", mcycle);
  print("wall", vmft_clock_wall_ns());
  print("mono", vmft_clock_mono_ns());
  print("entropy", vmft_entropy());
  return 0;
}
