/* A bump allocator over [__heap_start, vmft_ram_end): nothing is ever given back. */
#include "ram.h"

#include "vmft.h"

static uintptr_t next_free; /* 0 until the first claim */

void *ram_claim(size_t size) {
  if (next_free == 0) next_free = (uintptr_t)__heap_start;
  uintptr_t start = (next_free + 15) & ~(uintptr_t)15;
  if (start > vmft_ram_end || size > vmft_ram_end - start) return 0;
  next_free = start + size;
  return (void *)start;
}
