/* Computes for about 900 million instructions with no input at all, then prints a checksum
   and exits 0: a CPU-bound guest whose backup has nothing to follow but progress marks. It
   also writes memory as it goes, so a backup that diverged would show it in a state digest. */
#include "vmft.h"

/* 14 instructions a round: half a second to two seconds under vmft (Unicorn 2.1) on a busy
   2-core machine, long enough for several status lines at 0.1 s, short enough for a test that
   runs a primary and a backup at once. */
#define CRUNCH_ROUNDS 64000000u

/* On a page of its own: a store to a page that holds code makes Unicorn retranslate it. */
static uint64_t table[256] __attribute__((aligned(4096)));

int main(void) {
  uint64_t x = 0x9e3779b97f4a7c15ULL;
  for (uint32_t i = 0; i < CRUNCH_ROUNDS; i++) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    table[x & 255] += x;
  }
  uint64_t sum = 0;
  for (int i = 0; i < 256; i++) sum ^= table[i];
  vmft_puts("crunch: checksum ");
  vmft_print_u64(sum);
  vmft_puts("\n");
  return 0;
}
