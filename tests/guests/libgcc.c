/* Work that gcc hands to libgcc on RV64IM with the lp64 ABI: soft-float doubles, 128-bit
   division and popcount. Prints each result as an integer, one per line. It links only
   against the rv64im/lp64 libgcc; the default multilib's is hard-float. */
#include <inttypes.h>
#include <stdio.h>

static void print(const char *name, uint64_t value) { printf("%s=%" PRIu64 "\n", name, value); }

int main(void) {
  /* volatile: computed at run time, by libgcc, not folded by the compiler. */
  volatile double a = 1.5, b = 2.25;
  volatile unsigned __int128 big = ((unsigned __int128)0x0123456789abcdefULL << 64) | 12345;
  volatile uint64_t divisor = 1000003, bits = 0xf0f0f0f0f0f0f0f0ULL;
  print("double", (uint64_t)((a * b + a / b) * 1000000.0));
  print("i128_quotient_high", (uint64_t)((big / divisor) >> 64));
  print("i128_quotient_low", (uint64_t)(big / divisor));
  print("i128_remainder", (uint64_t)(big % divisor));
  print("popcount", (uint64_t)__builtin_popcountll(bits));
  return 0;
}
