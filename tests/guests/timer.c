/* Arms the timer a few times, idling in between with interrupts enabled, and exits 0 once
   the handler has seen every tick. Prints each tick. */
#include "vmft.h"

#define TICKS 3
#define PERIOD_NS 5000000ULL /* 5 ms */

static volatile int ticks;

static void on_timer(uint64_t mcause, uint64_t mepc) {
  (void)mcause;
  (void)mepc;
  ticks++;
  vmft_timer_set(VMFT_TIMER_DISARMED); /* clears the pending tick */
}

int main(void) {
  vmft_set_irq_handler(VMFT_IRQ_TIMER, on_timer);
  vmft_irq_enable(VMFT_IRQ_TIMER);
  vmft_interrupts_on();
  for (int i = 0; i < TICKS; i++) {
    vmft_timer_set(vmft_clock_mono_ns() + PERIOD_NS);
    while (ticks == i) vmft_idle();
    vmft_puts("tick\n");
  }
  return ticks == TICKS ? 0 : 1;
}
