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

void vmft_nic_init(void *rx_buffer, size_t size) {
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_RX_BUF_ADDR, (uint64_t)(uintptr_t)rx_buffer);
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_RX_BUF_SIZE, size);
}

int vmft_nic_peek(struct vmft_nic_event *ev) {
  if (vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_RX_STATUS) == 0) return 0;
  ev->kind = (uint32_t)vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_RX_KIND);
  ev->conn = (uint32_t)vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_RX_CONN);
  ev->peer_ip = (uint32_t)vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_RX_PEER_IP);
  ev->peer_port = (uint32_t)vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_RX_PEER_PORT);
  ev->len = (uint32_t)vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_RX_LEN);
  return 1;
}

void vmft_nic_serve(void (*handle)(const struct vmft_nic_event *ev)) {
  for (;;) {
    struct vmft_nic_event ev;
    while (vmft_nic_peek(&ev)) {
      handle(&ev);
      vmft_nic_ack();
    }
    /* Check and sleep with interrupts off, so an event that lands in between still wakes
       the idle (it returns on pending & mie, whatever mstatus.MIE says). */
    const int was_on = vmft_interrupts_save_off();
    vmft_irq_enable(VMFT_IRQ_NIC);
    if (vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_RX_STATUS) == 0) vmft_idle();
    vmft_irq_disable(VMFT_IRQ_NIC);
    vmft_interrupts_restore(was_on);
  }
}

static int nic_send(uint32_t kind, uint32_t conn, uint32_t ip, uint32_t port, const void *data,
                    size_t len) {
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_TX_KIND, kind);
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_TX_CONN, conn);
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_TX_PEER_IP, ip);
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_TX_PEER_PORT, port);
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_TX_BUF_ADDR, (uint64_t)(uintptr_t)data);
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_TX_LEN, len);
  vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_TX_SEND, 1);
  return (int)vmft_mmio_read(VMFT_NIC_BASE, VMFT_NIC_TX_STATUS);
}

int vmft_udp_send(uint32_t peer_ip, uint32_t peer_port, const void *data, size_t len) {
  return nic_send(VMFT_NIC_KIND_UDP, 0, peer_ip, peer_port, data, len);
}
int vmft_tcp_send(uint32_t conn, const void *data, size_t len) {
  return nic_send(VMFT_NIC_KIND_TCP_DATA, conn, 0, 0, data, len);
}
int vmft_tcp_close(uint32_t conn) { return nic_send(VMFT_NIC_KIND_TCP_CLOSE, conn, 0, 0, 0, 0); }

void vmft_puts(const char *s) { vmft_console_write(s, strlen(s)); }

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
