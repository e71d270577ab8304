/* What picolibc needs from the machine it runs on: stdout and stderr through the console,
   sbrk bounded by the end of RAM, and _exit. */
#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmft.h"

/* Each console write is one output record in the log (and one hypercall), so characters are
   gathered into lines: a line leaves at its newline, when the buffer is full, at fflush and
   at exit. */
static char line[256];
static size_t line_used;

static int console_flush(FILE *stream) {
  (void)stream;
  if (line_used > 0) {
    vmft_console_write(line, line_used);
    line_used = 0;
  }
  return 0;
}

static int console_put(char c, FILE *stream) {
  line[line_used++] = c;
  if (c == '\n' || line_used == sizeof line) console_flush(stream);
  return (unsigned char)c;
}

/* Write-only: reading stdin gives EOF. */
static FILE console = FDEV_SETUP_STREAM(console_put, NULL, console_flush, _FDEV_SETUP_WRITE);
FILE *const stdin = &console;
FILE *const stdout = &console;
FILE *const stderr = &console;

void vmft_console_flush(void) { console_flush(&console); }

/* The heap: from the end of the image and its stack (link.ld's __heap_start) to the end of
   RAM, which crt0 has put in vmft_ram_end. */
static char *heap_top = __heap_start;

void *sbrk(ptrdiff_t increment) {
  const uintptr_t top = (uintptr_t)heap_top;
  const uintptr_t room_above = (uintptr_t)vmft_ram_end - top;
  const uintptr_t room_below = top - (uintptr_t)__heap_start;
  if (increment > 0 ? (uintptr_t)increment > room_above : (uintptr_t)-increment > room_below) {
    errno = ENOMEM;
    return (void *)-1;
  }
  char *old = heap_top;
  heap_top += increment;
  return old;
}

/* raise() without a handler installed: the one process ends, as a shell reports a signal
   (abort, and so a failed assert, exits with 128 + SIGABRT = 134). */
pid_t getpid(void) { return 1; }

int kill(pid_t pid, int sig) {
  if (pid != 1) {
    errno = ESRCH;
    return -1;
  }
  fprintf(stderr, "guest ended by signal %d\n", sig);
  _exit(128 + sig);
}

/* exit() runs the atexit handlers and destructors, then comes here. */
void _exit(int code) {
  console_flush(&console);
  vmft_exit(code);
}
