/* The SDK's sleeps against the guest's own use of the timer. Prints one line per check and
   exits with the number of checks that failed. */
#include <stdio.h>

#include "vmft.h"

#define MS 1000000ULL

static volatile int ticks;
static volatile uint64_t tick_at; /* the monotonic clock in the last tick's handler */

static void on_timer(uint64_t mcause, uint64_t mepc) {
  (void)mcause;
  (void)mepc;
  ticks++;
  tick_at = vmft_clock_mono_ns();
  vmft_timer_set(VMFT_TIMER_DISARMED);
}

static int failed;
static void check(const char *what, int ok) {
  printf("%s %s\n", what, ok ? "ok" : "FAILED");
  if (!ok) failed++;
}

int main(void) {
  /* A plain sleep, with the timer never armed by the guest: reaches the deadline and leaves the
     timer disarmed. */
  uint64_t deadline = vmft_clock_mono_ns() + 2 * MS;
  vmft_sleep_until(deadline);
  check("sleep_until",
        vmft_clock_mono_ns() >= deadline && vmft_timer_get() == VMFT_TIMER_DISARMED && ticks == 0);

  vmft_set_irq_handler(VMFT_IRQ_TIMER, on_timer);
  vmft_irq_enable(VMFT_IRQ_TIMER);
  vmft_interrupts_on();

  /* The guest's tick falls due during the sleep: its handler runs then, not after (the sleep
     arms nothing of its own until the tick is taken). */
  const uint64_t start = vmft_clock_mono_ns();
  vmft_timer_set(start + 1 * MS);
  vmft_sleep_until(start + 6 * MS);
  check("own tick during sleep",
        ticks == 1 && tick_at >= start + 1 * MS && vmft_clock_mono_ns() >= start + 6 * MS);

  /* The guest's tick falls due after the sleep: still armed when it returns, and fires. (A
     1 ms sleep would have to return 100 ms late for the tick to come first.) */
  const uint64_t later = vmft_clock_mono_ns() + 100 * MS;
  vmft_timer_set(later);
  vmft_sleep_ns(1 * MS);
  check("own tick kept", ticks == 1 && vmft_timer_get() == later);
  while (ticks == 1) vmft_idle();
  check("own tick fired", ticks == 2 && tick_at >= later);

  /* An idle wait: times out with nothing armed, wakes early for the guest's tick. */
  deadline = vmft_clock_mono_ns() + 1 * MS;
  check("wait_until times out",
        vmft_wait_until(deadline) == 0 && vmft_clock_mono_ns() >= deadline && ticks == 2);
  const uint64_t soon = vmft_clock_mono_ns() + 1 * MS;
  vmft_timer_set(soon);
  check("wait_until wakes for a tick",
        vmft_wait_until(soon + 10000 * MS) == 1 && ticks == 3 && tick_at >= soon);

  /* With interrupts off the guest's tick cannot be taken: the sleep arms its own deadline,
     puts the guest's back, and the tick is taken once interrupts are on again. */
  vmft_interrupts_off();
  const uint64_t masked = vmft_clock_mono_ns() + 1 * MS;
  vmft_timer_set(masked);
  const uint64_t before = vmft_rdinstret();
  vmft_sleep_ns(3 * MS);
  const uint64_t spent = vmft_rdinstret() - before;
  check("interrupts off: tick waits", ticks == 3 && vmft_timer_get() == masked);
  /* A sleep idles a few times at most; one woken by the pending tick over and over would spin
     through thousands of instructions. */
  check("interrupts off: no spinning", spent < 2000);
  vmft_interrupts_on();
  while (ticks == 3) vmft_idle();
  check("interrupts off: tick taken after", ticks == 4);
  return failed;
}
