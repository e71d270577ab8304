/* The Internet checksum (RFC 1071): the one's complement of the one's complement sum of
 * big-endian 16-bit words. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vnet_internal.h"

uint32_t vnet_csum_add(uint32_t sum, const uint8_t *data, size_t len) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__GNUC__)
  /* RFC 1071 2(B) and (C): the sum does not depend on byte order, nor on where its words
   * start. Words loaded in the machine's order sum to the byte-swapped big-endian sum; words
   * that start one byte late (an odd address, so that the loads are aligned) sum to that
   * swapped once more. Loads are aligned (a RISC-V guest has no fast unaligned ones): 8 bytes
   * at a time, as two 32-bit halves, which 64 bits hold for any frame without folding. */
  const uint8_t *p = data;
  size_t n = len;
  uint64_t acc = 0;
  const bool odd = ((uintptr_t)p & 1) != 0;
  if (odd && n > 0) {
    acc = (uint64_t)p[0] << 8;
    p++;
    n--;
  }
  uint16_t w;
  uint64_t v;
  for (; n >= 2 && ((uintptr_t)p & 7) != 0; p += 2, n -= 2) {
    memcpy(&w, __builtin_assume_aligned(p, 2), 2);
    acc += w;
  }
  for (; n >= 8; p += 8, n -= 8) {
    memcpy(&v, __builtin_assume_aligned(p, 8), 8);
    acc += (v & 0xffffffffu) + (v >> 32);
  }
  for (; n >= 2; p += 2, n -= 2) {
    memcpy(&w, __builtin_assume_aligned(p, 2), 2);
    acc += w;
  }
  if (n > 0) acc += p[0];
  while (acc >> 16) acc = (acc & 0xffffu) + (acc >> 16);
  if (!odd) acc = (uint16_t)(acc << 8 | acc >> 8);
  uint64_t total = (uint64_t)sum + acc;
#else
  uint64_t total = sum;
  size_t i = 0;
  for (; i + 1 < len; i += 2) total += (uint32_t)(data[i] << 8 | data[i + 1]);
  if (i < len) total += (uint32_t)data[i] << 8;
#endif
  while (total >> 32) total = (total & 0xffffffffu) + (total >> 32);
  return (uint32_t)total;
}

uint16_t vnet_csum_finish(uint32_t sum) {
  while (sum >> 16) sum = (sum & 0xffffu) + (sum >> 16);
  return (uint16_t)~sum;
}

uint16_t vnet_l4_checksum(uint32_t src, uint32_t dst, uint8_t proto, const uint8_t *seg,
                          size_t len) {
  /* The pseudo-header's big-endian words, summed as numbers: addresses, protocol, length. */
  const uint32_t pseudo = (src >> 16) + (src & 0xffffu) + (dst >> 16) + (dst & 0xffffu) + proto +
                          (uint32_t)(uint16_t)len;
  return vnet_csum_finish(vnet_csum_add(pseudo, seg, len));
}
