/* The vmft guest SDK: bare-metal helpers for guests written in C (RV64IM + Zicsr, machine mode).
   Guests are ordinary C on picolibc (printf, malloc, string.h, ...). Include this header; link
   with crt0.S, trap.S, runtime.c, picolibc.c, string.c, the archive of serve.c and net/ (the network
   stack, linked only into guests that serve), picolibc's libc.a and the rv64im/lp64 libgcc
   (vmft_add_guest does). */
#ifndef VMFT_SDK_H
#define VMFT_SDK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

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

/* Writes what stdio holds of an unfinished line (fflush(stdout) does the same). */
void vmft_console_flush(void);
/* Sends still queued for the NIC's doorbell leave first (see vmft_nic_serve). */
void vmft_nic_flush_queued(void);
/* Ends the run now with `code`, as _exit does: stdio's unfinished line and the NIC's queued
   sends go out first, but atexit handlers and destructors do not run (exit() runs them). */
__attribute__((noreturn)) static inline void vmft_exit(int code) {
  vmft_console_flush();
  vmft_nic_flush_queued();
  vmft_hypercall(VMFT_HC_EXIT, (uint64_t)code, 0);
  for (;;) {
  }
}
/* One console write: a single output record. printf's buffered line (see vmft_console_flush)
   is not written first; vmft_puts does that. */
static inline void vmft_console_write(const void *data, size_t len) {
  vmft_hypercall(VMFT_HC_CONSOLE_WRITE, (uint64_t)(uintptr_t)data, len);
}
/* Blocks (costing the host no CPU) until an interrupt enabled in mie is pending; returns at
   once if one is. Whether it is then taken is up to mstatus.MIE. See also vmft_wait_until. */
static inline void vmft_idle(void) { vmft_hypercall(VMFT_HC_IDLE, 0, 0); }

/* ---- CSRs and interrupts ---- */
#define VMFT_CSR_READ(name)                         \
  ({                                                \
    uint64_t v_;                                    \
    __asm__ volatile("csrr %0, " #name : "=r"(v_)); \
    v_;                                             \
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

/* ---- clock and timer ----
   Every clock counts nanoseconds: wall time since the Unix epoch, monotonic time since the VM
   booted, and the time and cycle CSRs too (vmft_rdtime, vmft_rdcycle: a 1 GHz timebase, equal
   to the monotonic clock). Each read is an input the log records, so a replay reads the same
   values; a guest reads them as freely as any program reads its clock. */
static inline uint64_t vmft_clock_wall_ns(void) {
  return vmft_mmio_read(VMFT_CLOCK_BASE, VMFT_CLOCK_WALL_NS);
}
static inline uint64_t vmft_clock_mono_ns(void) {
  return vmft_mmio_read(VMFT_CLOCK_BASE, VMFT_CLOCK_MONO_NS);
}
/* Arms the timer's one compare register: VMFT_IRQ_TIMER becomes pending once the monotonic
   clock reaches the deadline. VMFT_TIMER_DISARMED disarms it; any write clears a pending tick. */
static inline void vmft_timer_set(uint64_t deadline_mono_ns) {
  vmft_mmio_write(VMFT_TIMER_BASE, VMFT_TIMER_COMPARE, deadline_mono_ns);
}
static inline uint64_t vmft_timer_get(void) {
  return vmft_mmio_read(VMFT_TIMER_BASE, VMFT_TIMER_COMPARE);
}

/* Sleeping and waiting idle on the timer, costing the host no CPU. Both share the timer with
   the guest: a deadline the guest armed (vmft_timer_set) that comes first is left to fire and
   its handler runs as usual, if the guest takes timer interrupts; otherwise they arm their own
   deadline and put the guest's back before returning (one that passed meanwhile then fires at
   once). Neither may be called from an interrupt handler. */

/* Returns once the monotonic clock has reached `deadline_mono_ns`. Interrupts the guest takes
   (mstatus.MIE on) are taken meanwhile; with mstatus.MIE off they wait until after. */
void vmft_sleep_until(uint64_t deadline_mono_ns);
void vmft_sleep_ns(uint64_t ns);
/* The idle wait of an event loop: returns 1 once an interrupt enabled in mie is pending (and,
   with mstatus.MIE on, has been taken), or 0 once the monotonic clock has reached
   `deadline_mono_ns`, whichever comes first. VMFT_TIMER_DISARMED waits for an interrupt only. */
int vmft_wait_until(uint64_t deadline_mono_ns);

/* ---- devices ---- */
static inline uint64_t vmft_entropy(void) {
  return vmft_mmio_read(VMFT_ENTROPY_BASE, VMFT_ENTROPY_VALUE);
}

/* ---- NIC: the SDK keeps the descriptor rings (abi.h) ---- */
#define VMFT_NIC_RX_SLOTS 16 /* receive buffers kept posted */
#define VMFT_NIC_TX_SLOTS 64 /* sends one doorbell can carry */

/* One received event: a filled receive descriptor. */
struct vmft_nic_event {
  uint32_t kind; /* VMFT_NIC_KIND_* */
  uint32_t conn;
  uint32_t peer_ip;
  uint32_t peer_port;
  uint32_t len;  /* payload bytes at data */
  uint8_t *data; /* in a receive buffer that is the guest's until vmft_nic_ack */
};
/* Divides `rx_area` into VMFT_NIC_RX_SLOTS receive buffers of size / VMFT_NIC_RX_SLOTS bytes,
   posts them and hands the rings to the NIC. A datagram longer than one buffer is cut to its
   size; TCP data arrives in chunks of at most one buffer. Returns 0, or -1 if the NIC refused
   the rings (an area too small for one byte per buffer) or, on the frame NIC, if a buffer
   cannot take a whole frame (the MTU plus VMFT_NIC_ETH_HEADER bytes). */
int vmft_nic_init(void *rx_area, size_t size);
/* The oldest event not yet acknowledged, into *ev, without releasing it. Returns 0 if none. */
int vmft_nic_peek(struct vmft_nic_event *ev);
/* Releases the event vmft_nic_peek returned: its buffer is posted again, for the NIC to see at
   the next doorbell. */
void vmft_nic_ack(void);
/* Rings the doorbell: the sends queued so far leave, in order, and the NIC sees the buffers
   posted again and clears its interrupt. Returns how many of those sends the NIC refused. */
int vmft_nic_flush(void);
/* One send request of any kind, as the NIC's descriptor carries it; the calls below are made
   of it. The payload is copied at once (the buffer is free again on return). With `queue` it
   waits for the next doorbell and returns VMFT_NIC_OK (or VMFT_NIC_ERR_BUFFER for a payload over
   VMFT_NIC_MAX_PAYLOAD); otherwise it leaves at once and returns the NIC's answer. */
int vmft_nic_send(uint32_t kind, uint32_t conn, uint32_t peer_ip, uint32_t peer_port,
                  const void *data, size_t len, int queue);
/* The frame NIC (vmft's --tap): one Ethernet frame, header and all, of at most the MTU plus
   VMFT_NIC_ETH_HEADER bytes, sent at once. */
int vmft_frame_send(const void *frame, size_t len);

/* ---- serving, on either NIC ----
   A server written against these calls runs on both NICs unchanged. On the socket NIC the
   host terminates TCP and UDP (vmft's --tcp and --udp) and the events are the NIC's own. On
   the frame NIC (--tap) the guest owns its network: the SDK runs its own TCP/IP stack
   (net/vnet.h) on the NIC's frames and hands the handler the same events, answers ARP and ping,
   and keeps its TCP timers on the guest's timer. There a guest takes at most
   VMFT_NIC_FRAME_CONNECTIONS connections at once (about 8.5 KiB of heap each, allocated at
   the first call), TCP data arrives in chunks of at most VMFT_NIC_FRAME_CHUNK bytes, a
   datagram carries at most 1472 bytes (the stack does not fragment), and a connection whose
   replies the client leaves unread past VMFT_NIC_FRAME_UNSENT_MAX bytes is reset (and the
   handler told it closed), as the host drops such a client (--max-unread-bytes). */
#define VMFT_NIC_FRAME_CONNECTIONS 64
#define VMFT_NIC_FRAME_CHUNK 4096
#define VMFT_NIC_FRAME_UNSENT_MAX (1u << 20)

typedef void (*vmft_nic_handler)(const struct vmft_nic_event *ev);
/* The ports the server answers on when it owns its network: on the frame NIC the SDK's stack
   listens on TCP port `tcp_port` and takes datagrams to UDP port `udp_port` (0: none; the first
   call's ports stay). On the socket NIC the host listens where --tcp and --udp say, and this
   does nothing. Call it after vmft_nic_init. Returns 0, or -1 if the stack could not start or
   take a port. */
int vmft_nic_listen(uint16_t tcp_port, uint16_t udp_port);
/* The server loop: forever, hands each event to `handle` (its payload stays valid until
   `handle` returns), releases it, and once none is left rings the doorbell and idles until
   the next. The sends `handle` makes are queued and leave together at that doorbell. The NIC
   interrupt only wakes the idle (it is enabled in mie just around it, with mstatus.MIE off),
   so it never traps; other interrupts, like the timer's, keep working. */
__attribute__((noreturn)) void vmft_nic_serve(vmft_nic_handler handle);
/* Send requests. The payload is copied at once (the buffer is free again on return). Inside
   vmft_nic_serve's handler a send is queued for the doorbell after the batch and returns
   VMFT_NIC_OK (or VMFT_NIC_ERR_BUFFER for a payload over VMFT_NIC_MAX_PAYLOAD); anywhere else
   it leaves at once and returns the NIC's answer: VMFT_NIC_OK or a VMFT_NIC_ERR_* code. A
   send on a connection that is gone fails harmlessly with VMFT_NIC_ERR_CONN. */
int vmft_udp_send(uint32_t peer_ip, uint32_t peer_port, const void *data, size_t len);
int vmft_tcp_send(uint32_t conn, const void *data, size_t len);
int vmft_tcp_close(uint32_t conn);

/* Waits, costing the host no CPU, until a NIC event is ready for vmft_nic_peek or the
   monotonic clock reaches `deadline_mono_ns` (VMFT_TIMER_DISARMED: no deadline); returns 1 if
   an event is ready. For event loops that have timers of their own, like a TCP/IP stack's;
   call it after vmft_nic_flush (the doorbell clears the NIC interrupt). */
int vmft_nic_wait(uint64_t deadline_mono_ns);

/* The frame NIC's settings (vmft's --tap, --guest-mac, --guest-ip, --gateway, --mtu). */
struct vmft_frame_nic {
  uint8_t mac[6];
  uint32_t ip; /* host byte order */
  uint8_t prefix_len;
  uint32_t gateway; /* 0: none */
  uint32_t mtu;
};
/* Fills *nic (unless it is NULL) and returns 1 on the frame NIC; returns 0 on the socket NIC. */
int vmft_frame_nic(struct vmft_frame_nic *nic);

/* ---- text output ---- */
void vmft_puts(const char *s); /* no newline added; after what printf has buffered */
/* Writes the decimal form of v into buf (at least 21 bytes); returns its length. */
size_t vmft_fmt_i64(char *buf, int64_t v);
size_t vmft_fmt_u64(char *buf, uint64_t v);
void vmft_print_u64(uint64_t v);

/* ---- RAM ---- */
extern uint64_t vmft_ram_end; /* set by crt0 */
extern char __heap_start[];   /* first free byte after the image and the stack: malloc's
                                 heap grows from here (sbrk) up to vmft_ram_end */

#endif
