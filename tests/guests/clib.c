/* Ordinary C on the SDK's picolibc: a constructor, printf and snprintf, malloc and free,
   string.h, errno (thread-local, so it needs crt0's tp), thread-local variables with and
   without an initial value, an atexit handler, and main's result as the exit code. Prints a
   line per check; the test compares the whole output. */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmft.h"

static int constructed;
__attribute__((constructor)) static void construct(void) { constructed = 42; }

static _Thread_local int tls_initialised = 7;
static _Thread_local int tls_zeroed;

static void at_exit(void) { printf("atexit ran\n"); }

int main(void) {
  printf("constructor %d\n", constructed);
  printf("printf %d %u %ld %x %s %c %5.2f\n", -12, 34u, 5678901234L, 0xbeefu, "str", 'c', 3.14159);

  char buf[32];
  const int n = snprintf(buf, sizeof buf, "%08lu|%-4s|", 123456UL, "ab");
  printf("snprintf %d '%s'\n", n, buf);

  /* Blocks of growing sizes, filled and checked, then freed and allocated again: the heap
     reuses what was freed. */
  enum { kBlocks = 64 };
  unsigned char *blocks[kBlocks];
  for (int i = 0; i < kBlocks; i++) {
    blocks[i] = malloc((size_t)(i + 1) * 1024);
    if (!blocks[i]) return 10;
    memset(blocks[i], i, (size_t)(i + 1) * 1024);
  }
  int intact = 1;
  for (int i = 0; i < kBlocks; i++) {
    for (size_t j = 0; j < (size_t)(i + 1) * 1024; j++) intact &= blocks[i][j] == (unsigned char)i;
    free(blocks[i]);
  }
  void *again = malloc(32 * 1024);
  printf("malloc %s, again %s\n", intact ? "intact" : "CORRUPT", again ? "ok" : "NULL");
  free(again);
  /* More than RAM holds: malloc says no instead of running into the stack or off RAM. */
  printf("huge malloc %s\n", malloc((size_t)1 << 40) == NULL ? "NULL" : "not NULL");

  char s[32] = "hello";
  strcat(s, ", world");
  printf("string %s %zu %d %s\n", s, strlen(s), strcmp("abc", "abd") < 0, strchr(s, 'w'));

  errno = 0;
  const long big = strtol("99999999999999999999", NULL, 10);
  printf("errno %s %d\n", errno == ERANGE ? "ERANGE" : "other", big == __LONG_MAX__);

  tls_zeroed += 3;
  printf("tls %d %d\n", tls_initialised, tls_zeroed);

  assert(constructed == 42);
  atexit(at_exit);
  printf("unfinished line, written at exit");
  return 7;
}
