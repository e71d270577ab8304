/* Faults in the way the entropy value selects, so one guest covers every fault report:
   1 illegal instruction, 2 load from unmapped memory, 3 store to unmapped memory,
   4 jump to unmapped memory, 5 unknown hypercall, 6 console write outside RAM.
   Any other value (real entropy, under `vmft run`) means 2. */
#include "vmft.h"

int main(void) {
  vmft_puts("fault: starting\n");
  uint64_t selector = vmft_entropy();
  if (selector < 1 || selector > 6) selector = 2;
  switch (selector) {
    case 1: __asm__ volatile(".word 0xffffffff"); break;
    case 2: return (int)*(volatile uint64_t *)0x1234;
    case 3: *(volatile uint64_t *)0x40000000 = 1; break;
    case 4: ((void (*)(void))0x50000000)(); break;
    case 5: vmft_hypercall(99, 0, 0); break;
    case 6: vmft_console_write((const void *)0x10, 8); break;
  }
  return 0;
}
