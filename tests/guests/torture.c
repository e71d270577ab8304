/* A guest that is hard on a pair: a timer storm (a tick every 50-200 us, each period drawn
   from entropy), every nondeterministic source read in the handler and in the main loop
   (rdtime, rdcycle, rdinstret, both clock registers, entropy), bursts of work of random
   length between idles, and a numbered console line every 0.2 ms of guest time, so that a
   line lost or reordered across a failover shows as a gap in the numbers. Every UDP datagram
   is answered with the guest's running mix, so a replay that fed anything differently sends
   other bytes; "quit" prints the mix and exits 0. TCP data is answered the same way.

   Console lines: "torture: line N mix M" with N counting from 1 without gaps. */
#include "vmft.h"

#define MIN_TICK_NS 50000ULL  /* 50 us */
#define TICK_SPREAD_NS 150001ULL
#define LINE_EVERY_NS 200000ULL /* 0.2 ms */

static uint64_t mix = 0x9e3779b97f4a7c15ULL;
static volatile uint64_t ticks;
static uint8_t rx_area[VMFT_NIC_RX_SLOTS * 2048];
static char reply[2048 + 32];

static void stir(uint64_t value) { mix = (mix ^ value) * 0x100000001b3ULL; }

static void arm_timer(void) {
  vmft_timer_set(vmft_clock_mono_ns() + MIN_TICK_NS + vmft_entropy() % TICK_SPREAD_NS);
}

static void on_timer(uint64_t mcause, uint64_t mepc) {
  (void)mcause;
  stir(mepc); /* where the tick landed */
  stir(vmft_rdtime());
  stir(vmft_rdcycle());
  stir(vmft_rdinstret());
  ticks++;
  arm_timer();
}

static size_t with_mix(const uint8_t *data, size_t len) {
  memcpy(reply, data, len);
  reply[len] = ' ';
  return len + 1 + vmft_fmt_u64(reply + len + 1, mix);
}

static void print_mix_and_exit(void) {
  vmft_puts("torture: mix ");
  vmft_print_u64(mix);
  vmft_puts("\n");
  vmft_exit(0);
}

static void handle_event(const struct vmft_nic_event *ev) {
  stir(ev->kind);
  stir(ev->conn);
  for (uint32_t i = 0; i < ev->len; i++) stir(ev->data[i]);
  switch (ev->kind) {
    case VMFT_NIC_KIND_UDP:
      if (ev->len == 4 && memcmp(ev->data, "quit", 4) == 0) print_mix_and_exit();
      vmft_udp_send(ev->peer_ip, ev->peer_port, reply, with_mix(ev->data, ev->len));
      break;
    case VMFT_NIC_KIND_TCP_OPEN: stir(vmft_clock_wall_ns()); break;
    case VMFT_NIC_KIND_TCP_DATA: vmft_tcp_send(ev->conn, reply, with_mix(ev->data, ev->len)); break;
    case VMFT_NIC_KIND_TCP_CLOSE: vmft_tcp_close(ev->conn); break;
    default: break;
  }
}

/* How long a burst of work may be, in loop iterations of about five instructions; a build
   may choose more (torture_busy.c, for a guest that is rarely idle). */
#ifndef TORTURE_BURST
#define TORTURE_BURST 8192
#endif

/* Work whose length only the entropy decides: from nothing to 5 * TORTURE_BURST instructions. */
static void burst(void) {
  uint64_t n = vmft_entropy() % TORTURE_BURST;
  for (uint64_t i = 0; i < n; i++) stir(i);
}

static void print_line(uint64_t number) {
  char line[96];
  size_t len = 0;
  const char prefix[] = "torture: line ";
  memcpy(line, prefix, sizeof prefix - 1);
  len += sizeof prefix - 1;
  len += vmft_fmt_u64(line + len, number);
  memcpy(line + len, " mix ", 5);
  len += 5;
  len += vmft_fmt_u64(line + len, mix);
  line[len++] = '\n';
  vmft_console_write(line, len);
}

int main(void) {
  stir(vmft_clock_wall_ns());
  vmft_set_irq_handler(VMFT_IRQ_TIMER, on_timer);
  vmft_irq_enable(VMFT_IRQ_TIMER);
  vmft_nic_init(rx_area, sizeof rx_area);
  arm_timer();
  vmft_interrupts_on();
  vmft_puts("torture: ready\n");
  uint64_t lines = 0;
  uint64_t next_line = vmft_clock_mono_ns() + LINE_EVERY_NS;
  for (;;) {
    struct vmft_nic_event ev;
    while (vmft_nic_peek(&ev)) {
      handle_event(&ev);
      vmft_nic_ack();
    }
    const uint64_t now = vmft_clock_mono_ns();
    if (now >= next_line) {
      print_line(++lines);
      next_line = now + LINE_EVERY_NS;
    }
    if (vmft_entropy() & 1) burst();
    /* As vmft_nic_serve: the doorbell lets the NIC see the buffers posted again and clears its
       interrupt; then check and sleep with interrupts off, so an event that lands in between
       still wakes the idle; the pending timer interrupt is taken once they are on. */
    vmft_nic_flush();
    const uint64_t seen = ticks;
    const int was_on = vmft_interrupts_save_off();
    vmft_irq_enable(VMFT_IRQ_NIC);
    if (ticks == seen && !vmft_nic_peek(&ev)) vmft_idle();
    vmft_irq_disable(VMFT_IRQ_NIC);
    vmft_interrupts_restore(was_on);
  }
}
