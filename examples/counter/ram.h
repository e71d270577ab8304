/* The RAM beyond the guest image, for the counter's large tables.
 *
 * The SDK's link script promises only 1 MiB of RAM, so the store, the client buffers
 * (8 MiB together) and the receive buffers (1 MiB) cannot be static arrays; they are claimed
 * from the RAM that vmft --mem
 * provides beyond the image instead. RAM arrives zeroed and claims are made once, in a fixed
 * order at startup, so every address stays deterministic. */
#ifndef COUNTER_RAM_H
#define COUNTER_RAM_H

#include <stddef.h>

/* Returns size bytes of zeroed RAM, 16-byte aligned, or 0 if RAM is too small. */
void *ram_claim(size_t size);

#endif
