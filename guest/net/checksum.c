/* The Internet checksum (RFC 1071): the one's complement of the one's complement sum of
 * big-endian 16-bit words. */
#include <string.h>

#include "vnet_internal.h"

uint32_t vnet_csum_add(uint32_t sum, const uint8_t *data, size_t len) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
  /* RFC 1071 2(B): the sum does not depend on byte order. Words loaded in the machine's order
   * (eight bytes at a time, as two 32-bit halves) sum to the byte-swapped big-endian sum; a
   * last odd byte loads as the low byte of a word, which the swap makes the high one, as the
   * checksum pads it. 64 bits hold any frame's halves without folding inside the loop. */
  uint64_t acc = 0;
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, data + i, 8);
    acc += (v & 0xffffffffu) + (v >> 32);
  }
  for (; i + 1 < len; i += 2) acc += (uint32_t)(data[i] | data[i + 1] << 8);
  if (i < len) acc += data[i];
  while (acc >> 16) acc = (acc & 0xffffu) + (acc >> 16);
  uint64_t total = (uint64_t)sum + (uint16_t)(acc << 8 | acc >> 8);
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
  uint8_t pseudo[12];
  vnet_put32(pseudo, src);
  vnet_put32(pseudo + 4, dst);
  pseudo[8] = 0;
  pseudo[9] = proto;
  vnet_put16(pseudo + 10, (uint16_t)len);
  return vnet_csum_finish(vnet_csum_add(vnet_csum_add(0, pseudo, sizeof pseudo), seg, len));
}
