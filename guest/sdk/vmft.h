/* The vmft guest SDK: bare-metal helpers for guests written in C (RV64IM + Zicsr, machine mode).
   Include this header; link with crt0.S, trap.S, runtime.c and libc.c (vmft_add_guest does). */
#ifndef VMFT_SDK_H
#define VMFT_SDK_H

#include <stddef.h>
#include <stdint.h>

#include "vmft/guest/abi.h"

/* ---- device registers (64-bit, see abi.h) ---- */
static inline uint64_t vmft_mmio_read(uint64_t base, uint64_t reg) {
  return *(volatile uint64_t *)(base + reg);
}
static inline void vmft_mmio_write(uint64_t base, uint64_t reg, uint64_t value) {
  *(volatile uint64_t *)(base + reg) = value;
}

/* ---- hypercalls ---- */
static inline uint64_t vmft_hypercall(uint64_t number, uint64_t a0, uint64_t a1) {
  register uint64_t r_a0 __asm__("a0") = a0;
  register uint64_t r_a1 __asm__("a1") = a1;
  register uint64_t r_a7 __asm__("a7") = number;
  __asm__ volatile("ecall" : "+r"(r_a0) : "r"(r_a1), "r"(r_a7) : "memory");
  return r_a0;
}
__attribute__((noreturn)) static inline void vmft_exit(int code) {
  vmft_hypercall(VMFT_HC_EXIT, (uint64_t)code, 0);
  for (;;) {
  }
}
static inline void vmft_console_write(const void *data, size_t len) {
  vmft_hypercall(VMFT_HC_CONSOLE_WRITE, (uint64_t)(uintptr_t)data, len);
}
/* Blocks (costing the host no CPU) until an interrupt enabled in mie is pending. */
static inline void vmft_idle(void) { vmft_hypercall(VMFT_HC_IDLE, 0, 0); }

/* ---- CSRs and interrupts ---- */
#define VMFT_CSR_READ(name)                                                                        \
  ({                                                                                               \
    uint64_t v_;                                                                                   \
    __asm__ volatile("csrr %0, " #name : "=r"(v_));                                                \
    v_;                                                                                            \
  })
static inline uint64_t vmft_rdtime(void) { return VMFT_CSR_READ(time); }
static inline uint64_t vmft_rdcycle(void) { return VMFT_CSR_READ(cycle); }
static inline uint64_t vmft_rdinstret(void) { return VMFT_CSR_READ(instret); }

static inline void vmft_irq_enable(unsigned cause) {
  __asm__ volatile("csrs mie, %0" ::"r"(1UL << cause));
}
static inline void vmft_irq_disable(unsigned cause) {
  __asm__ volatile("csrc mie, %0" ::"r"(1UL << cause));
}
/* mstatus.MIE: the global switch for taking interrupts. */
static inline void vmft_interrupts_on(void) { __asm__ volatile("csrsi mstatus, 8"); }
static inline void vmft_interrupts_off(void) { __asm__ volatile("csrci mstatus, 8"); }
/* Clears mstatus.MIE and returns whether it was set, for vmft_interrupts_restore. */
static inline int vmft_interrupts_save_off(void) {
  uint64_t old;
  __asm__ volatile("csrrci %0, mstatus, 8" : "=r"(old));
  return (old & 8) != 0;
}
static inline void vmft_interrupts_restore(int was_on) {
  if (was_on) vmft_interrupts_on();
}

/* Called from the trap vector for every interrupt; mepc is where the guest resumes. */
typedef void (*vmft_irq_handler)(uint64_t mcause, uint64_t mepc);
/* Installs a handler for one interrupt cause (VMFT_IRQ_*). Without one, the SDK's handler
   masks the cause in mie so the guest does not loop on it. */
void vmft_set_irq_handler(unsigned cause, vmft_irq_handler handler);

/* ---- devices ---- */
static inline uint64_t vmft_clock_wall_ns(void) {
  return vmft_mmio_read(VMFT_CLOCK_BASE, VMFT_CLOCK_WALL_NS);
}
static inline uint64_t vmft_clock_mono_ns(void) {
  return vmft_mmio_read(VMFT_CLOCK_BASE, VMFT_CLOCK_MONO_NS);
}
static inline void vmft_timer_set(uint64_t deadline_mono_ns) {
  vmft_mmio_write(VMFT_TIMER_BASE, VMFT_TIMER_COMPARE, deadline_mono_ns);
}
static inline uint64_t vmft_entropy(void) {
  return vmft_mmio_read(VMFT_ENTROPY_BASE, VMFT_ENTROPY_VALUE);
}

/* One received NIC event, as read from the RX registers. */
struct vmft_nic_event {
  uint32_t kind; /* VMFT_NIC_KIND_* */
  uint32_t conn;
  uint32_t peer_ip;
  uint32_t peer_port;
  uint32_t len; /* bytes in the receive buffer */
};
/* Names the receive buffer; the NIC writes payloads there. */
void vmft_nic_init(void *rx_buffer, size_t size);
/* Reads the event in the receive slot into *ev, without releasing it. Returns 0 if empty. */
int vmft_nic_peek(struct vmft_nic_event *ev);
/* Releases the receive slot (the buffer may be overwritten from then on). */
static inline void vmft_nic_ack(void) { vmft_mmio_write(VMFT_NIC_BASE, VMFT_NIC_RX_ACK, 1); }
/* The server loop: forever, hands each event to `handle` (its payload stays in the receive
   buffer until `handle` returns), releases it, and idles while there is none. The NIC
   interrupt only wakes the idle (it is enabled in mie just around it, with mstatus.MIE
   off), so it never traps; other interrupts, like the timer's, keep working. */
__attribute__((noreturn)) void vmft_nic_serve(void (*handle)(const struct vmft_nic_event *ev));
/* Send requests; each returns VMFT_NIC_OK or a VMFT_NIC_ERR_* code. */
int vmft_udp_send(uint32_t peer_ip, uint32_t peer_port, const void *data, size_t len);
int vmft_tcp_send(uint32_t conn, const void *data, size_t len);
int vmft_tcp_close(uint32_t conn);

/* ---- text output ---- */
void vmft_puts(const char *s); /* no newline added */
/* Writes the decimal form of v into buf (at least 21 bytes); returns its length. */
size_t vmft_fmt_i64(char *buf, int64_t v);
size_t vmft_fmt_u64(char *buf, uint64_t v);
void vmft_print_u64(uint64_t v);

/* ---- RAM ---- */
extern uint64_t vmft_ram_end;    /* set by crt0 */
extern char __heap_start[];       /* first free byte after the image and the stack */

/* ---- the few libc pieces guests (and gcc) need ---- */
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);

#endif
