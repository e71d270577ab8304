/* TCP initial sequence numbers (RFC 6528): a 4 us clock plus a keyed hash of the 4-tuple, the
 * key being the caller's secret (vnet_config.tcp_secret). The clock keeps a new incarnation of
 * a 4-tuple above its last one's numbers; the hash keeps a peer that sees its own ISNs from
 * guessing another's. The hash is SipHash-2-4, a keyed PRF small enough to write here. Only
 * the caller's secret and now_ns go in, so a replay gets the same numbers. */
#include "vnet_internal.h"

static uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

static uint64_t get64le(const uint8_t *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = v << 8 | p[i];
  return v;
}

struct sip {
  uint64_t v0, v1, v2, v3;
};

static void sip_round(struct sip *s) {
  s->v0 += s->v1;
  s->v1 = rotl(s->v1, 13) ^ s->v0;
  s->v0 = rotl(s->v0, 32);
  s->v2 += s->v3;
  s->v3 = rotl(s->v3, 16) ^ s->v2;
  s->v0 += s->v3;
  s->v3 = rotl(s->v3, 21) ^ s->v0;
  s->v2 += s->v1;
  s->v1 = rotl(s->v1, 17) ^ s->v2;
  s->v2 = rotl(s->v2, 32);
}

static void sip_compress(struct sip *s, uint64_t m) {
  s->v3 ^= m;
  sip_round(s);
  sip_round(s);
  s->v0 ^= m;
}

/* SipHash-2-4 of a message of whole 8-byte words plus a final partial word, as the reference
 * implementation does it (the length in the last byte). */
static uint64_t siphash(const uint8_t key[16], const uint8_t *msg, size_t len) {
  uint64_t k0 = get64le(key), k1 = get64le(key + 8);
  struct sip s = {k0 ^ 0x736f6d6570736575ull, k1 ^ 0x646f72616e646f6dull,
                  k0 ^ 0x6c7967656e657261ull, k1 ^ 0x7465646279746573ull};
  size_t whole = len & ~(size_t)7;
  for (size_t i = 0; i < whole; i += 8) sip_compress(&s, get64le(msg + i));
  uint64_t last = (uint64_t)len << 56;
  for (size_t i = whole; i < len; i++) last |= (uint64_t)msg[i] << (8 * (i - whole));
  sip_compress(&s, last);
  s.v2 ^= 0xff;
  for (int i = 0; i < 4; i++) sip_round(&s);
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

uint32_t vnet_tcp_isn(const struct vnet *net, uint32_t remote_ip, uint16_t local_port,
                      uint16_t remote_port, uint64_t now_ns) {
  uint8_t tuple[12];
  vnet_put32(tuple, net->cfg.ip);
  vnet_put32(tuple + 4, remote_ip);
  vnet_put16(tuple + 8, local_port);
  vnet_put16(tuple + 10, remote_port);
  return (uint32_t)siphash(net->cfg.tcp_secret, tuple, sizeof tuple) + (uint32_t)(now_ns / 4000);
}
