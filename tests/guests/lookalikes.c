/* Constants that encode counter reads (rdcycle a0, rdinstret a0, csrr a0 mcycle, csrr a5
   minstret), kept in .rodata: vmft rewrites counter reads in code only, so each prints as it
   was written, one per line. Then one real rdcycle, which vmft does rewrite (it reads the
   host clock through the log, so it is nonzero). */
#include "vmft.h"

static const uint32_t kLookAlikes[] = {0xc0002573, 0xc0202573, 0xb0002573, 0xb02027f3};

int main(void) {
  for (size_t i = 0; i < sizeof kLookAlikes / sizeof kLookAlikes[0]; i++) {
    /* Read through a volatile pointer, so gcc cannot fold the constant into the code. */
    vmft_print_u64(((const volatile uint32_t *)kLookAlikes)[i]);
    vmft_puts("\n");
  }
  vmft_puts(vmft_rdcycle() != 0 ? "cycle read\n" : "cycle zero\n");
  return 0;
}
