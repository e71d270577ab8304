/* SDK runtime: interrupt dispatch, NIC and console helpers. */
#include "vmft.h"

uint64_t vmft_ram_end;

static vmft_irq_handler irq_handlers[64];

void vmft_set_irq_handler(unsigned cause, vmft_irq_handler handler) {
  if (cause < 64) irq_handlers[cause] = handler;
}

/* Called by trap.S. Only interrupts arrive here (see trap.S). */
void vmft_handle_trap(uint64_t mcause, uint64_t mepc) {
  unsigned cause = (unsigned)(mcause & 63);
  if (irq_handlers[cause]) {
    irq_handlers[cause](mcause, mepc);
  } else {
    vmft_irq_disable(cause);
  }
}

/* ---- sleeping on the timer ---- */

#define TIMER_BIT (1UL << VMFT_IRQ_TIMER)

static uint64_t mie_read(void) { return VMFT_CSR_READ(mie); }
static void mie_write(uint64_t v) { __asm__ volatile("csrw mie, %0" ::"r"(v)); }
static int interrupts_taken(void) { return (VMFT_CSR_READ(mstatus) & 8) != 0; }

/* One idle until `deadline`, the timer's interrupt or (if `others`) any other interrupt enabled
   in mie. Returns 1 if it woke before the deadline. */
static int wait_once(uint64_t deadline, int others) {
  const int was_on = vmft_interrupts_save_off();
  const uint64_t mie = mie_read();
  const uint64_t theirs = vmft_timer_get();
  /* The guest's own deadline stays armed only if it comes first and its handler can run once
     interrupts are back on; else it would wake every idle until then without being taken. */
  const int borrow = theirs > deadline || !(mie & TIMER_BIT) || !was_on;
  if (borrow) vmft_timer_set(deadline);
  mie_write((others ? mie : 0) | TIMER_BIT);
  int woke = 0;
  if (vmft_clock_mono_ns() < deadline) {
    vmft_idle();
    woke = vmft_clock_mono_ns() < deadline;
  }
  if (borrow) vmft_timer_set(theirs);
  mie_write(mie);
  vmft_interrupts_restore(was_on); /* what woke the idle is taken here */
  return woke;
}

void vmft_sleep_until(uint64_t deadline_mono_ns) {
  while (vmft_clock_mono_ns() < deadline_mono_ns) wait_once(deadline_mono_ns, interrupts_taken());
}

void vmft_sleep_ns(uint64_t ns) { vmft_sleep_until(vmft_clock_mono_ns() + ns); }

int vmft_wait_until(uint64_t deadline_mono_ns) { return wait_once(deadline_mono_ns, 1); }

/* ---- NIC ---- */

/* Room for every payload one doorbell can carry, however large each is: a send that does not
   fit rings the doorbell first. */
#define TX_ARENA_BYTES (2 * VMFT_NIC_MAX_PAYLOAD)

static volatile struct vmft_nic_rings rings __attribute__((aligned(8)));
static volatile struct vmft_nic_rx_desc rx_ring[VMFT_NIC_RX_SLOTS] __attribute__((aligned(8)));
static volatile struct vmft_nic_tx_desc tx_ring[VMFT_NIC_TX_SLOTS] __attribute__((aligned(8)));
static uint8_t tx_arena[TX_ARENA_BYTES];
static size_t tx_arena_used;
static uint32_t rx_taken;   /* events peeked and acknowledged */
static uint32_t tx_queued;  /* the ring's tx_queued, as this side last wrote it */
static uint32_t tx_flushed; /* tx_queued at the last doorbell */

int vmft_nic_init(void *rx_area, size_t size) {
  const size_t buffer = size / VMFT_NIC_RX_SLOTS;
  /* A frame is never cut: every buffer must take the largest. */
  const uint64_t mtu = vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_MTU);
  if (mtu != 0 && buffer < mtu + VMFT_NIC_ETH_HEADER) return -1;
  for (uint32_t i = 0; i < VMFT_NIC_RX_SLOTS; i++) {
    rx_ring[i].buf = (uint64_t)(uintptr_t)((uint8_t *)rx_area + i * buffer);
    rx_ring[i].buf_size = (uint32_t)(buffer > UINT32_MAX ? UINT32_MAX : buffer);
  }
  rings.rx_desc = (uint64_t)(uintptr_t)rx_ring;
  rings.tx_desc = (uint64_t)(uintptr_t)tx_ring;
  rings.rx_size = VMFT_NIC_RX_SLOTS;
  rings.tx_size = VMFT_NIC_TX_SLOTS;
  rings.rx_posted = VMFT_NIC_RX_SLOTS;
  rings.rx_filled = 0;
  rings.tx_queued = 0;
  rings.tx_done = 0;
  rx_taken = tx_queued = tx_flushed = 0;
  tx_arena_used = 0;
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_RINGS, (uint64_t)(uintptr_t)&rings);
  return buffer > 0 && vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_ERROR) == VMFT_NIC_OK ? 0 : -1;
}

int vmft_nic_peek(struct vmft_nic_event *ev) {
  for (;;) {
    if (rings.rx_filled == rx_taken) return 0;
    const volatile struct vmft_nic_rx_desc *d = &rx_ring[rx_taken % VMFT_NIC_RX_SLOTS];
    if (d->kind != 0) {
      ev->kind = d->kind;
      ev->conn = d->conn;
      ev->peer_ip = d->peer_ip;
      ev->peer_port = d->peer_port;
      ev->len = d->len;
      ev->data = (uint8_t *)(uintptr_t)d->buf;
      return 1;
    }
    vmft_nic_ack(); /* the NIC could not use this buffer: nothing in it */
  }
}

void vmft_nic_ack(void) {
  rx_taken++;
  rings.rx_posted = rx_taken + VMFT_NIC_RX_SLOTS; /* the same slot, posted again */
}

int vmft_nic_flush(void) {
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_DOORBELL, 1);
  int refused = 0;
  for (uint32_t i = tx_flushed; i != tx_queued; i++) {
    if (tx_ring[i % VMFT_NIC_TX_SLOTS].status != VMFT_NIC_OK) refused++;
  }
  tx_flushed = tx_queued;
  tx_arena_used = 0;
  return refused;
}

void vmft_nic_flush_queued(void) {
  if (tx_queued != tx_flushed) vmft_nic_flush();
}

int vmft_nic_send(uint32_t kind, uint32_t conn, uint32_t peer_ip, uint32_t peer_port,
                  const void *data, size_t len, int queue) {
  if (len > VMFT_NIC_MAX_PAYLOAD) return VMFT_NIC_ERR_BUFFER;
  if (tx_queued - tx_flushed == VMFT_NIC_TX_SLOTS || tx_arena_used + len > TX_ARENA_BYTES) {
    vmft_nic_flush();
  }
  uint8_t *copy = tx_arena + tx_arena_used;
  if (len > 0) memcpy(copy, data, len);
  tx_arena_used += len;
  volatile struct vmft_nic_tx_desc *d = &tx_ring[tx_queued % VMFT_NIC_TX_SLOTS];
  d->buf = (uint64_t)(uintptr_t)copy;
  d->len = (uint32_t)len;
  d->kind = kind;
  d->conn = conn;
  d->peer_ip = peer_ip;
  d->peer_port = peer_port;
  d->status = VMFT_NIC_OK;
  rings.tx_queued = ++tx_queued;
  if (queue) return VMFT_NIC_OK;
  vmft_nic_flush();
  return (int)d->status;
}

int vmft_frame_send(const void *frame, size_t len) {
  return vmft_nic_send(VMFT_NIC_KIND_FRAME, 0, 0, 0, frame, len, 0);
}

int vmft_nic_wait(uint64_t deadline_mono_ns) {
  const int was_on = vmft_interrupts_save_off();
  const uint64_t mie = mie_read();
  vmft_irq_enable(VMFT_IRQ_NIC); /* wakes the wait; with mstatus.MIE off it never traps */
  if (rings.rx_filled == rx_taken) vmft_wait_until(deadline_mono_ns);
  mie_write(mie);
  vmft_interrupts_restore(was_on);
  return rings.rx_filled != rx_taken;
}

int vmft_frame_nic(struct vmft_frame_nic *nic) {
  const uint64_t mac = vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_MAC);
  if (mac == 0) return 0;
  if (!nic) return 1;
  for (int i = 0; i < 6; i++) nic->mac[i] = (uint8_t)(mac >> (8 * i));
  const uint64_t ipv4 = vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_IPV4);
  nic->ip = (uint32_t)ipv4;
  nic->prefix_len = (uint8_t)(ipv4 >> 32);
  nic->gateway = (uint32_t)vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_GATEWAY);
  nic->mtu = (uint32_t)vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_MTU);
  return 1;
}

void vmft_puts(const char *s) {
  vmft_console_flush();
  vmft_console_write(s, strlen(s));
}

size_t vmft_fmt_u64(char *buf, uint64_t v) {
  char tmp[20];
  size_t n = 0;
  do {
    tmp[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v != 0);
  for (size_t i = 0; i < n; i++) buf[i] = tmp[n - 1 - i];
  buf[n] = '\0';
  return n;
}

size_t vmft_fmt_i64(char *buf, int64_t v) {
  if (v >= 0) return vmft_fmt_u64(buf, (uint64_t)v);
  buf[0] = '-';
  return 1 + vmft_fmt_u64(buf + 1, (uint64_t)0 - (uint64_t)v);
}

void vmft_print_u64(uint64_t v) {
  char buf[21];
  vmft_console_write(buf, vmft_fmt_u64(buf, v));
}
