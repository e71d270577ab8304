/* An idle guest with a 100 Hz timer, for measuring how fast an idle VM grows its event log
   (scripts/bench). Each tick re-arms the timer from a clock read, as a guest OS's tick does;
   between ticks the guest idles. Exits 0 after TICKS ticks (3 s). */
#include "vmft.h"

#define TICKS 300
#define PERIOD_NS 10000000ULL /* 10 ms: 100 Hz */

static volatile uint64_t ticks;

static void on_timer(uint64_t mcause, uint64_t mepc) {
  (void)mcause;
  (void)mepc;
  /* Re-arming also clears the pending tick. It is done even after the last tick, so that an
     idle the main loop entered just before that tick still wakes. */
  vmft_timer_set(vmft_clock_mono_ns() + PERIOD_NS);
  ticks++;
}

int main(void) {
  vmft_set_irq_handler(VMFT_IRQ_TIMER, on_timer);
  vmft_irq_enable(VMFT_IRQ_TIMER);
  vmft_timer_set(vmft_clock_mono_ns() + PERIOD_NS);
  vmft_interrupts_on();
  while (ticks < TICKS) vmft_idle();
  vmft_irq_disable(VMFT_IRQ_TIMER);
  vmft_puts("ticker: ");
  vmft_print_u64(ticks);
  vmft_puts(" ticks\n");
  return 0;
}
