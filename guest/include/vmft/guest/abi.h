/*
 * The vmft guest ABI: memory map, device registers, interrupt causes and hypercall numbers.
 *
 * This header is the one source of truth shared by guests (C, bare metal RISC-V) and by the
 * host (devices/ and hypervisor/, C++). It holds constants and the NIC's ring layouts (plain
 * structs of fixed-width fields), so it compiles as C and C++.
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

/* ---- NIC: UDP datagrams and TCP connection events (or Ethernet frames), through descriptor
 * rings in guest RAM ----
 * The guest lays out a struct vmft_nic_rings and two descriptor arrays in its RAM and writes
 * the header's address to VMFT_NIC_RINGS. From then on both sides meet in RAM:
 *
 * Receiving. The guest posts receive buffers: it fills rx descriptor number rx_posted (slot
 * rx_posted % rx_size) with a buffer's address and size, then advances rx_posted. The host
 * delivers host events in order into posted descriptors, each at an instruction boundary: it
 * copies the payload into the buffer, fills kind, conn, len and the peer, advances rx_filled
 * and raises the NIC interrupt. Payload bytes enter guest RAM only then. A TCP payload longer
 * than a buffer continues in the next descriptors (as several TCP_DATA events); a UDP
 * datagram or a frame longer than its buffer is cut to the buffer's size, as recvfrom(2)
 * does. A descriptor whose buffer is not wholly inside RAM, or is empty, comes back with kind
 * 0 and takes nothing. The host reads rx_posted only when the guest writes VMFT_NIC_RINGS or
 * VMFT_NIC_DOORBELL (so that it learns of posts at exact instructions): post, then ring the
 * doorbell. It keeps its own rx_filled and tx_done and never reads them back.
 *
 * Sending. The guest fills tx descriptor number tx_queued (slot tx_queued % tx_size) and
 * advances tx_queued, as many as it likes, then writes VMFT_NIC_DOORBELL. The host then takes
 * every queued descriptor in order before the write returns: it copies the payload out,
 * writes the descriptor's status (VMFT_NIC_OK or why not) and advances tx_done. The payload
 * buffers are free again when the write returns. Whether a send is accepted depends only on
 * what the guest has seen, never on the host's sockets, so it is deterministic.
 *
 * The NIC interrupt is pending from the moment the host fills a descriptor until the next
 * VMFT_NIC_DOORBELL write (a guest that took in every filled descriptor and rings the
 * doorbell can then idle safely: anything filled later raises it again).
 *
 * TCP_CLOSE means the peer sends nothing more; the connection stays open for the guest's
 * replies until the guest closes it, and after the guest closes it no more events for it
 * arrive. The host disconnects a client that leaves more than 16 MiB of replies unread; the
 * guest then sees TCP_CLOSE.
 *
 * Counts are free-running 32-bit numbers (they wrap); a ring holds at most its size of
 * descriptors between the two counts. All fields are little-endian. */
#define VMFT_NIC_RINGS 0x00    /* rw: guest address of the struct vmft_nic_rings (8-byte aligned);
                                  writing it reads the layout (sizes, descriptor addresses) and
                                  starts both rings at the header's counts; 0: no rings */
#define VMFT_NIC_DOORBELL 0x08 /* w: send the queued tx descriptors, look for posted rx ones,
                                  and clear the NIC interrupt */
#define VMFT_NIC_ERROR 0x10    /* r: VMFT_NIC_OK, or why the last VMFT_NIC_RINGS write was
                                  refused (VMFT_NIC_ERR_RINGS); a refused layout means no rings */

/* The frame NIC (vmft's --tap): the NIC carries Ethernet frames (VMFT_NIC_KIND_FRAME) instead of
 * UDP datagrams and TCP connection events, and the guest runs its own TCP/IP stack. These
 * registers hold its settings from vmft's command line; they read 0 on the socket NIC. They
 * are the same on every replica (a backup's are checked against its primary's, and a log
 * carries them), so reading them is not an input. */
#define VMFT_NIC_MAC 0x18     /* r: the guest's MAC address in bits 0..47, the first byte on
                                 the wire in bits 0..7; 0: no frame NIC */
#define VMFT_NIC_IPV4 0x20    /* r: the guest's IPv4 address in bits 0..31 (host byte order:
                                 198.18.0.10 is 0xc612000a), its prefix length in bits 32..39 */
#define VMFT_NIC_GATEWAY 0x28 /* r: the IPv4 gateway, host byte order; 0: none */
#define VMFT_NIC_MTU 0x30     /* r: the largest IP packet a frame carries, in bytes; a frame
                                 is at most this plus VMFT_NIC_ETH_HEADER bytes */
#define VMFT_NIC_ETH_HEADER 14 /* destination and source MAC, ethertype (no FCS, no VLAN tag) */

#define VMFT_NIC_MAX_RING 4096 /* a ring's size: a power of two from 1 to this */

#ifndef __ASSEMBLER__
#include <stdint.h>

struct vmft_nic_rings {
  uint64_t rx_desc;   /* guest: address of rx_size struct vmft_nic_rx_desc, 8-byte aligned */
  uint64_t tx_desc;   /* guest: address of tx_size struct vmft_nic_tx_desc, 8-byte aligned */
  uint32_t rx_size;   /* guest: descriptors in the rx ring */
  uint32_t tx_size;   /* guest: descriptors in the tx ring */
  uint32_t rx_posted; /* guest: rx descriptors posted */
  uint32_t rx_filled; /* host: rx descriptors filled */
  uint32_t tx_queued; /* guest: tx descriptors queued */
  uint32_t tx_done;   /* host: tx descriptors taken */
};

struct vmft_nic_rx_desc {
  uint64_t buf;       /* guest: receive buffer address */
  uint32_t buf_size;  /* guest: its size in bytes */
  uint32_t kind;      /* host: VMFT_NIC_KIND_*, or 0 if the buffer was unusable */
  uint32_t conn;      /* host: TCP connection id (0 for UDP) */
  uint32_t len;       /* host: payload bytes copied into the buffer */
  uint32_t peer_ip;   /* host: UDP sender's IPv4 address, host byte order */
  uint32_t peer_port; /* host: its port */
};

struct vmft_nic_tx_desc {
  uint64_t buf;       /* guest: payload address */
  uint32_t len;       /* guest: payload length, at most VMFT_NIC_MAX_PAYLOAD */
  uint32_t kind;      /* guest: VMFT_NIC_KIND_UDP, _TCP_DATA, _TCP_CLOSE or _FRAME */
  uint32_t conn;      /* guest: TCP connection id */
  uint32_t peer_ip;   /* guest: UDP destination address, host byte order */
  uint32_t peer_port; /* guest: UDP destination port */
  uint32_t status;    /* host: VMFT_NIC_OK or VMFT_NIC_ERR_* */
};
#endif

#define VMFT_NIC_KIND_UDP 1       /* a datagram from (or to) the descriptor's peer */
#define VMFT_NIC_KIND_TCP_OPEN 2  /* a client connected; its conn names it from now on */
#define VMFT_NIC_KIND_TCP_DATA 3  /* bytes on a connection */
#define VMFT_NIC_KIND_TCP_CLOSE 4 /* rx: the peer sends nothing more; tx: close it */
#define VMFT_NIC_KIND_FRAME 5     /* an Ethernet frame (frame NIC): rx received, tx to send */
#define VMFT_NIC_KIND_LINK 6      /* rx, frame NIC: the guest's frames now go out another port
                                     (a backup went live in its primary's place); no payload.
                                     Tell the network at once: announce the MAC (gratuitous
                                     ARP) and resend what peers have not acknowledged */

#define VMFT_NIC_OK 0
#define VMFT_NIC_ERR_KIND 1    /* unknown kind, or no socket of that kind configured */
#define VMFT_NIC_ERR_BUFFER 2  /* payload not inside RAM, or longer than VMFT_NIC_MAX_PAYLOAD;
                                  a frame shorter than its header or longer than MTU + header */
#define VMFT_NIC_ERR_CONN 3    /* no open connection with that id */
#define VMFT_NIC_ERR_RINGS 4   /* a ring layout that is not inside RAM, not aligned, or whose
                                  size is not a power of two up to VMFT_NIC_MAX_RING */
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
