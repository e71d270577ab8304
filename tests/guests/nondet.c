/* Uses every source of nondeterminism a guest has: rdtime, rdcycle, the clock registers,
   entropy, timer interrupts, UDP datagrams and TCP connection events. Every reply mixes in
   what the guest has seen so far, so a replay that fed any input differently, or at another
   instruction, sends different bytes. "quit" over UDP ends it with exit code 0. */
#include "vmft.h"

static uint64_t mix = 0x9e3779b97f4a7c15ULL;
static uint64_t period_ns;
/* Small receive buffers: a TCP payload longer than all of them together arrives over several
   deliveries (the snapshot tests take one in between). */
static uint8_t rx_area[VMFT_NIC_RX_SLOTS * 256];
static char reply[4096 + 32];

static void stir(uint64_t value) { mix = (mix ^ value) * 0x100000001b3ULL; }

static void on_timer(uint64_t mcause, uint64_t mepc) {
  (void)mcause;
  stir(mepc); /* where the tick landed */
  stir(vmft_rdtime());
  stir(vmft_rdcycle());
  vmft_timer_set(vmft_clock_mono_ns() + period_ns);
}

/* The payload, a space and the mix in 16 hex digits: a fixed number of instructions whatever
   the mix, so that a replay fed a changed value replies at the same instruction as the
   recording, with other bytes (tests/unit/ReplayTest.cc counts on it). */
static size_t with_mix(const uint8_t *data, size_t len) {
  memcpy(reply, data, len);
  reply[len] = ' ';
  for (int i = 0; i < 16; i++) reply[len + 1 + i] = "0123456789abcdef"[(mix >> (60 - 4 * i)) & 15];
  return len + 17;
}

static void handle_event(const struct vmft_nic_event *ev) {
  stir(ev->kind);
  stir(ev->conn);
  stir(vmft_rdinstret());
  for (uint32_t i = 0; i < ev->len; i++) stir(ev->data[i]);
  switch (ev->kind) {
    case VMFT_NIC_KIND_UDP:
      if (ev->len == 4 && memcmp(ev->data, "quit", 4) == 0) {
        vmft_puts("nondet: mix ");
        vmft_print_u64(mix);
        vmft_puts("\n");
        vmft_exit(0);
      }
      vmft_udp_send(ev->peer_ip, ev->peer_port, reply, with_mix(ev->data, ev->len));
      break;
    case VMFT_NIC_KIND_TCP_OPEN: stir(vmft_clock_wall_ns()); break;
    case VMFT_NIC_KIND_TCP_DATA: vmft_tcp_send(ev->conn, reply, with_mix(ev->data, ev->len)); break;
    case VMFT_NIC_KIND_TCP_CLOSE: vmft_tcp_close(ev->conn); break;
    default: break;
  }
  /* Each reply leaves at once, at its own doorbell, rather than with the batch: a replay fed
     a changed input is caught at that very reply (tests/unit/ReplayTest.cc). */
  vmft_nic_flush();
}

/* Two reads in one block, whatever the layout: a function of a few instructions, aligned so
   that no page boundary (where Unicorn ends a block) falls inside it. BackupRoleTest cuts a
   log between the two. */
__attribute__((noinline, aligned(64))) static uint64_t entropy_and_wall(uint64_t *wall) {
  const uint64_t entropy = vmft_entropy();
  *wall = vmft_clock_wall_ns();
  return entropy;
}

int main(void) {
  uint64_t wall;
  period_ns = 1000000 + entropy_and_wall(&wall) % 2000000; /* a 1-3 ms tick */
  stir(wall);
  vmft_set_irq_handler(VMFT_IRQ_TIMER, on_timer);
  vmft_irq_enable(VMFT_IRQ_TIMER);
  vmft_timer_set(vmft_clock_mono_ns() + period_ns);
  vmft_nic_init(rx_area, sizeof rx_area);
  vmft_interrupts_on();
  vmft_puts("nondet: ready\n");
  vmft_nic_serve(handle_event);
}
