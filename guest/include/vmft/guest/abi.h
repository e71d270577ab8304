/*
 * The vmft guest ABI: memory map, device registers, interrupt causes and hypercall numbers.
 *
 * This header is the one source of truth shared by guests (C, bare metal RISC-V) and by the
 * host (devices/ and hypervisor/, C++). It holds only constants, so it compiles as C and C++.
 *
 * Device registers are 64-bit and sit at 8-byte aligned offsets. Unicorn splits a 64-bit
 * MMIO access into two 32-bit halves (low first), so the host gives them these semantics:
 *   - reading the low half reads the register and latches its value; reading the high half
 *     right after returns the latched upper 32 bits (so `ld` is one atomic read);
 *   - a write takes effect when its high half is written (so `sd` is one write; a lone `sw`
 *     to the low half does nothing). Guests use the SDK's vmft_mmio_read/write (ld/sd).
 */
#ifndef VMFT_GUEST_ABI_H
#define VMFT_GUEST_ABI_H

/* ---- memory map ---- */
#define VMFT_RAM_BASE 0x80000000UL
#define VMFT_MMIO_BASE 0x10000000UL
#define VMFT_MMIO_PAGE_SIZE 0x1000UL

#define VMFT_CONSOLE_BASE 0x10000000UL
#define VMFT_CLOCK_BASE 0x10001000UL
#define VMFT_TIMER_BASE 0x10002000UL
#define VMFT_NIC_BASE 0x10003000UL
#define VMFT_ENTROPY_BASE 0x10004000UL

/* ---- boot ----
 * The guest starts at its ELF entry in machine mode with a0 = RAM base and a1 = RAM size,
 * every other register zero, interrupts disabled, and all of RAM zeroed except the image. */

/* ---- console ---- */
#define VMFT_CONSOLE_TX 0x00 /* w: low byte is written to the console */

/* ---- clock: every read is a nondeterministic input ---- */
#define VMFT_CLOCK_WALL_NS 0x00 /* r: nanoseconds since the Unix epoch (host wall clock) */
#define VMFT_CLOCK_MONO_NS 0x08 /* r: nanoseconds since the VM booted (monotonic) */

/* ---- timer: one compare register against VMFT_CLOCK_MONO_NS ---- */
#define VMFT_TIMER_COMPARE 0x00 /* rw: deadline in monotonic ns; writing clears a pending tick;
                                   VMFT_TIMER_DISARMED (the reset value) never fires */
#define VMFT_TIMER_PENDING 0x08 /* r: 1 while the timer interrupt is pending */
#define VMFT_TIMER_DISARMED 0xffffffffffffffffULL

/* ---- entropy ---- */
#define VMFT_ENTROPY_VALUE 0x00 /* r: 64 random bits (a nondeterministic input) */

/* ---- NIC: UDP datagrams and TCP connection events through one receive slot ----
 * The guest names a receive buffer (RX_BUF_ADDR, RX_BUF_SIZE). The host delivers one event
 * at a time: it copies the payload into that buffer, fills the RX_* registers, sets
 * RX_STATUS to 1 and raises the NIC interrupt, all at one instruction boundary. The guest
 * reads the event and writes RX_ACK, which frees the slot for the next event. A TCP payload
 * larger than the buffer arrives as several TCP_DATA events.
 * A UDP datagram larger than the buffer is cut to the buffer's size, as recvfrom(2) does.
 * TCP_CLOSE means the peer sends nothing more; the connection stays open for the guest's
 * replies until the guest closes it, and after the guest closes it no more events for it
 * arrive. The host disconnects a client that leaves more than 16 MiB of replies unread; the
 * guest then sees TCP_CLOSE.
 * To send, the guest fills the TX_* registers and writes TX_SEND; TX_STATUS then says
 * whether the request was accepted (VMFT_NIC_OK) or why not. Acceptance depends only on what
 * the guest has seen, never on the host's sockets, so it is deterministic. */
#define VMFT_NIC_RX_STATUS 0x00    /* r: 1 when the slot holds an event */
#define VMFT_NIC_RX_KIND 0x08      /* r: VMFT_NIC_KIND_* */
#define VMFT_NIC_RX_CONN 0x10      /* r: TCP connection id (0 for UDP) */
#define VMFT_NIC_RX_LEN 0x18       /* r: payload bytes copied into the buffer */
#define VMFT_NIC_RX_PEER_IP 0x20   /* r: peer IPv4 address, host byte order */
#define VMFT_NIC_RX_PEER_PORT 0x28 /* r: peer port */
#define VMFT_NIC_RX_BUF_ADDR 0x30  /* rw: guest address of the receive buffer */
#define VMFT_NIC_RX_BUF_SIZE 0x38  /* rw: its size in bytes */
#define VMFT_NIC_RX_ACK 0x40       /* w: release the slot */
#define VMFT_NIC_TX_KIND 0x48      /* rw: VMFT_NIC_KIND_UDP, _TCP_DATA or _TCP_CLOSE */
#define VMFT_NIC_TX_CONN 0x50      /* rw: TCP connection id */
#define VMFT_NIC_TX_PEER_IP 0x58   /* rw: UDP destination address, host byte order */
#define VMFT_NIC_TX_PEER_PORT 0x60 /* rw: UDP destination port */
#define VMFT_NIC_TX_BUF_ADDR 0x68  /* rw: guest address of the payload */
#define VMFT_NIC_TX_LEN 0x70       /* rw: payload length */
#define VMFT_NIC_TX_SEND 0x78      /* w: send what the TX_* registers describe */
#define VMFT_NIC_TX_STATUS 0x80    /* r: VMFT_NIC_OK or VMFT_NIC_ERR_* for the last send */

#define VMFT_NIC_KIND_UDP 1       /* a datagram from (or to) RX/TX_PEER_IP:PORT */
#define VMFT_NIC_KIND_TCP_OPEN 2  /* a client connected; RX_CONN names it from now on */
#define VMFT_NIC_KIND_TCP_DATA 3  /* bytes on a connection */
#define VMFT_NIC_KIND_TCP_CLOSE 4 /* rx: the peer sends nothing more; tx: close it */

#define VMFT_NIC_OK 0
#define VMFT_NIC_ERR_KIND 1    /* unknown TX_KIND, or no socket of that kind configured */
#define VMFT_NIC_ERR_BUFFER 2  /* payload not inside RAM, or longer than VMFT_NIC_MAX_PAYLOAD */
#define VMFT_NIC_ERR_CONN 3    /* no open connection with that id */
#define VMFT_NIC_MAX_PAYLOAD 65507 /* one send, UDP or TCP: the largest UDP payload over IPv4 */

/* ---- interrupts (RISC-V machine-mode causes; mie bits are 1 << cause) ---- */
#define VMFT_IRQ_TIMER 7 /* machine timer interrupt */
#define VMFT_IRQ_NIC 11  /* machine external interrupt */
#define VMFT_MCAUSE_INTERRUPT (1ULL << 63)

/* ---- hypercalls: `ecall` with the number in a7 and arguments in a0..a2; result in a0 ---- */
#define VMFT_HC_EXIT 0          /* a0 = exit code; does not return */
#define VMFT_HC_CONSOLE_WRITE 1 /* a0 = address, a1 = length; returns bytes written */
#define VMFT_HC_IDLE 2          /* returns once an interrupt enabled in mie is pending
                                   (like wfi, whether or not mstatus.MIE is set) */

#endif
