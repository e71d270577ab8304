/* memcpy, memmove and memset for guests, a word at a time.
 *
 * picolibc's for rv64im are its size-optimized ones: a byte per loop of six instructions, so
 * copying a 1460-byte segment costs some 8800 instructions, and a guest's network stack or a
 * server that moves its buffers spends most of its time there. These move eight bytes per
 * load and store, merging two aligned loads with shifts where source and destination are not
 * aligned alike (RV64 has no fast misaligned access). Being objects the SDK always links, they
 * take the place of picolibc's for every caller, picolibc's own included.
 *
 * Every load is of an aligned word that holds at least one byte of the source, so none reaches
 * past the page (or the end of RAM) the source ends in. Plain C: the tests build it for the
 * host too, under other names (VMFT_STRING_NAME). */
#include <stddef.h>
#include <stdint.h>

#ifndef VMFT_STRING_NAME
#define VMFT_STRING_NAME(name) name
#endif

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the misaligned copy merges words little-endian"
#endif

/* Loads and stores of whole words through byte pointers: may_alias, as char's own. */
typedef uint64_t __attribute__((may_alias)) word;
#define WORD sizeof(word)

/* The compiler must not turn the byte loops below back into calls of these very functions. */
#if defined(__GNUC__) && !defined(__clang__)
#define BYTE_LOOPS __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define BYTE_LOOPS
#endif

static int aligned(const void *p) { return (uintptr_t)p % WORD == 0; }

/* Copies n bytes forward, from a destination that is word aligned; returns nothing, leaves
   fewer than WORD bytes for the caller (*dp, *sp and *np say where). */
static void copy_words_forward(unsigned char **dp, const unsigned char **sp, size_t *np) {
  unsigned char *d = *dp;
  const unsigned char *s = *sp;
  size_t n = *np;
  const unsigned shift = (unsigned)((uintptr_t)s % WORD) * 8;
  if (shift == 0) {
    for (; n >= 4 * WORD; n -= 4 * WORD, d += 4 * WORD, s += 4 * WORD) {
      const word a = ((const word *)s)[0], b = ((const word *)s)[1];
      const word c = ((const word *)s)[2], e = ((const word *)s)[3];
      ((word *)d)[0] = a;
      ((word *)d)[1] = b;
      ((word *)d)[2] = c;
      ((word *)d)[3] = e;
    }
    for (; n >= WORD; n -= WORD, d += WORD, s += WORD) *(word *)d = *(const word *)s;
  } else {
    /* Little endian: the word at d is the high bytes of the aligned word below s+k and the
       low bytes of the one above it. */
    const word *ws = (const word *)(s - shift / 8);
    word lo = *ws++;
    for (; n >= WORD; n -= WORD, d += WORD, s += WORD) {
      const word hi = *ws++;
      *(word *)d = lo >> shift | hi << (64 - shift);
      lo = hi;
    }
  }
  *dp = d;
  *sp = s;
  *np = n;
}

BYTE_LOOPS void *VMFT_STRING_NAME(memcpy)(void *restrict dst, const void *restrict src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  if (n >= 2 * WORD) {
    for (; !aligned(d); n--) *d++ = *s++;
    copy_words_forward(&d, &s, &n);
  }
  for (; n > 0; n--) *d++ = *s++;
  return dst;
}

BYTE_LOOPS void *VMFT_STRING_NAME(memmove)(void *dst, const void *src, size_t n) {
  unsigned char *d = dst;
  const unsigned char *s = src;
  if (d == s || n == 0) return dst;
  if (d < s || d >= s + n) {
    /* Forward is safe when the destination starts below the source: every word is loaded
       before anything at or past it is stored. */
    if (n >= 2 * WORD) {
      for (; !aligned(d); n--) *d++ = *s++;
      copy_words_forward(&d, &s, &n);
    }
    for (; n > 0; n--) *d++ = *s++;
    return dst;
  }
  /* Overlapping, destination above: backward, by words where both ends align alike. */
  d += n;
  s += n;
  if (n >= 2 * WORD && (uintptr_t)d % WORD == (uintptr_t)s % WORD) {
    for (; !aligned(d); n--) *--d = *--s;
    for (; n >= WORD; n -= WORD) {
      d -= WORD;
      s -= WORD;
      *(word *)d = *(const word *)s;
    }
  }
  for (; n > 0; n--) *--d = *--s;
  return dst;
}

BYTE_LOOPS void *VMFT_STRING_NAME(memset)(void *dst, int c, size_t n) {
  unsigned char *d = dst;
  const unsigned char byte = (unsigned char)c;
  if (n >= 2 * WORD) {
    for (; !aligned(d); n--) *d++ = byte;
    const word w = (word)byte * 0x0101010101010101u;
    for (; n >= 4 * WORD; n -= 4 * WORD, d += 4 * WORD) {
      ((word *)d)[0] = w;
      ((word *)d)[1] = w;
      ((word *)d)[2] = w;
      ((word *)d)[3] = w;
    }
    for (; n >= WORD; n -= WORD, d += WORD) *(word *)d = w;
  }
  for (; n > 0; n--) *d++ = byte;
  return dst;
}
