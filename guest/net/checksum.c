/* The Internet checksum (RFC 1071): the one's complement of the one's complement sum of
 * big-endian 16-bit words. */
#include "vnet_internal.h"

uint32_t vnet_csum_add(uint32_t sum, const uint8_t *data, size_t len) {
  /* 64 bits hold any frame's words without folding inside the loop. */
  uint64_t acc = sum;
  size_t i = 0;
  for (; i + 1 < len; i += 2) acc += (uint32_t)(data[i] << 8 | data[i + 1]);
  if (i < len) acc += (uint32_t)data[i] << 8;
  while (acc >> 32) acc = (acc & 0xffffffffu) + (acc >> 32);
  return (uint32_t)acc;
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
