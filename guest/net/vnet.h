/*
 * vnet: a guest's own TCP/IP stack over raw Ethernet frames (for now Ethernet, ARP, IPv4, ICMP
 * echo and UDP; TCP comes later in the same shape).
 *
 * The design follows smoltcp and lwIP's raw API: event driven, single threaded, no allocation.
 * The caller owns every struct vnet (static, or on its stack) and gives the stack three kinds of
 * events: a received frame (vnet_input), the passing of time (vnet_poll) and calls of its own
 * (vnet_udp_send, vnet_announce). The stack answers synchronously, through the driver's
 * send_frame and the UDP handlers, before the call returns.
 *
 * Determinism: the stack reads no clock and draws no random numbers. Time comes in as now_ns,
 * on any monotonic clock the caller likes (in a guest, vmft_clock_mono_ns()); what the stack
 * does depends only on its calls and their arguments, so a replay that makes the same calls
 * gets the same frames. The stack says when it next needs vnet_poll (vnet_next_deadline), so
 * that a guest arms its timer only when there is work: in vmft every timer tick is a logged
 * input.
 *
 * Threads and reentrancy: one caller at a time (a guest's main loop, or its interrupt handler
 * with the main loop kept out). UDP handlers may call vnet_udp_send, vnet_udp_bind and
 * vnet_udp_unbind; nothing the stack calls may call vnet_input or vnet_poll.
 *
 * Byte order: IPv4 addresses and ports cross this API in host byte order, as numbers
 * (10.0.2.15 is 0x0a00020f); the stack converts at the wire. Plain C11 (<stdint.h>,
 * <stddef.h>, <stdbool.h>, <string.h>): it builds for the guest and, for tests, on the host.
 */
#ifndef VMFT_VNET_H
#define VMFT_VNET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- error codes: every function that can fail returns 0 or one of these ---- */
#define VNET_OK 0
#define VNET_ERR_INVALID (-1)   /* a bad argument: a config out of range, port 0, NULL data */
#define VNET_ERR_TOO_BIG (-2)   /* the packet would not fit the MTU (the stack never fragments) */
#define VNET_ERR_NO_ROUTE (-3)  /* off-subnet with no gateway, or an address nothing can reach */
#define VNET_ERR_NO_BUFFER (-4) /* the ARP pending queue is full: try again later */
#define VNET_ERR_IN_USE (-5)    /* the UDP port is bound already */
#define VNET_ERR_FULL (-6)      /* every UDP binding is taken */
#define VNET_ERR_NOT_FOUND (-7) /* unbinding a port that is not bound */

/* ---- limits: each is the size of a fixed array inside struct vnet ---- */

/* An Ethernet frame without its FCS (a TAP device neither takes nor gives one): a 14-byte
 * header and at most 1500 bytes of payload. Jumbo frames are not supported: every frame buffer
 * the stack holds is this size. */
#define VNET_ETH_HEADER_LEN 14
#define VNET_MTU_MAX 1500
#define VNET_FRAME_MAX (VNET_ETH_HEADER_LEN + VNET_MTU_MAX)
/* RFC 791: every IPv4 host must take 68-byte datagrams; a smaller MTU cannot carry IPv4. */
#define VNET_MTU_MIN 68

/* Peers whose MAC the stack remembers. A guest server talks to its gateway and a handful of
 * hosts on its own subnet (everything off-subnet goes through the gateway's one entry);
 * 16 entries keep every lookup a short linear scan. When full, the entry that expires first
 * is reused. */
#define VNET_ARP_CACHE_SIZE 16
/* Packets held while their next hop's MAC is being resolved. A few cover the first packets of
 * a conversation (the usual case: a reply to a peer whose ARP entry expired); a peer that does
 * not answer must not hold more than a few frames of memory. Each slot is a full frame. */
#define VNET_ARP_PENDING_MAX 4
/* ARP requests for one address before its pending packets are dropped, and the wait between
 * them: Linux's defaults (mcast_solicit 3, retrans_time 1 s), so a dead peer costs 3 s. */
#define VNET_ARP_MAX_REQUESTS 3
#define VNET_ARP_RETRY_NS 1000000000ull
/* How long a learnt MAC is trusted without hearing from its owner again. Short enough that a
 * peer whose address moved to another MAC without a gratuitous ARP (a failover elsewhere) is
 * found again within a minute; long enough that a steady conversation rarely re-resolves. */
#define VNET_ARP_TTL_NS 60000000000ull
/* UDP ports a guest serves at once: a few services (a protocol port, maybe DNS, later DHCP). */
#define VNET_UDP_BINDINGS 8

/* ---- configuration and driver ---- */

struct vnet_config {
  uint8_t mac[6];     /* the guest's own unicast MAC */
  uint32_t ip;        /* the guest's address (not 0) */
  uint8_t prefix_len; /* the subnet's prefix, 0 to 32 */
  uint32_t gateway;   /* the next hop for off-subnet addresses, on the subnet; 0 for none */
  uint16_t mtu;       /* largest IP packet, VNET_MTU_MIN to VNET_MTU_MAX; 0 means 1500 */
};

/* How frames leave: send_frame gets one whole Ethernet frame (no FCS, not padded to 60 bytes;
 * a TAP device needs no padding). The bytes belong to the stack and are valid only during the
 * call: the driver copies them or finishes with them before it returns. */
struct vnet_driver {
  void *ctx;
  void (*send_frame)(void *ctx, const uint8_t *frame, size_t len);
};

/* What the stack did, for tests and diagnostics. Every received frame ends up in exactly one of
 * rx_delivered and the rx_drop_* counters (so they add up to rx_frames); every frame sent
 * counts in tx_frames. */
struct vnet_stats {
  uint64_t rx_frames;    /* frames given to vnet_input */
  uint64_t rx_delivered; /* frames used: ARP handled, echo answered, UDP delivered */

  uint64_t rx_drop_runt;      /* shorter than an Ethernet header */
  uint64_t rx_drop_oversize;  /* longer than a header plus the MTU */
  uint64_t rx_drop_mac;       /* unicast to another MAC, multicast, or a multicast source */
  uint64_t rx_drop_ethertype; /* neither IPv4 nor ARP (VLAN tags included) */

  uint64_t rx_drop_arp_malformed;  /* short, not Ethernet/IPv4, unknown op, bad sender */
  uint64_t rx_drop_arp_not_for_us; /* well formed, for another address (merged if known) */

  uint64_t rx_drop_ip_version;    /* version not 4 */
  uint64_t rx_drop_ip_header;     /* IHL under 5, or a header longer than the packet */
  uint64_t rx_drop_ip_length;     /* total length shorter than the header or than the frame */
  uint64_t rx_drop_ip_checksum;   /* header checksum wrong */
  uint64_t rx_drop_ip_fragment;   /* MF set or a fragment offset: there is no reassembly */
  uint64_t rx_drop_ip_source;     /* from 0, loopback, multicast, a broadcast or our own address */
  uint64_t rx_drop_ip_not_for_us; /* another address (broadcasts too, but for UDP) */
  uint64_t rx_drop_ip_protocol;   /* neither ICMP nor UDP */

  uint64_t rx_drop_icmp_malformed; /* shorter than an ICMP header */
  uint64_t rx_drop_icmp_checksum;
  uint64_t rx_drop_icmp_type; /* anything but an echo request */

  uint64_t rx_drop_udp_malformed; /* shorter than its header, or its length field is wrong */
  uint64_t rx_drop_udp_checksum;
  uint64_t rx_drop_udp_no_port; /* no binding for the destination port */

  uint64_t rx_drop_no_reply; /* understood, but its reply could not be sent (see tx_drop_*) */

  uint64_t tx_frames;       /* frames handed to send_frame */
  uint64_t tx_arp_requests; /* ARP requests sent, first tries and retries */
  uint64_t tx_drop_too_big; /* a reply or datagram larger than the MTU */
  uint64_t tx_drop_no_route;
  uint64_t tx_drop_pending_full; /* no pending slot for a packet waiting for ARP */
  uint64_t tx_drop_arp_failed;   /* pending packets dropped: their next hop never answered */
};

/* ---- UDP ---- */

/* Called from vnet_input for each datagram to a bound port. `data` points into the frame the
 * caller gave vnet_input and is valid only during the call. src_ip is the sender as it wrote
 * itself; dst_port is the bound port. */
typedef void (*vnet_udp_handler)(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
                                 const uint8_t *data, size_t len);

/* ---- the stack's state: owned by the caller, private to the stack ----
 * The fields are here only so that a caller can place a struct vnet statically. Read them
 * through vnet_get_stats and vnet_next_deadline. */

struct vnet_arp_entry {
  uint32_t ip;
  uint8_t mac[6];
  uint8_t state;        /* VNET_ARP_FREE, _INCOMPLETE or _RESOLVED (vnet_internal.h) */
  uint8_t requests;     /* ARP requests sent while incomplete */
  uint64_t deadline_ns; /* incomplete: the next retry; resolved: the expiry */
};

struct vnet_pending {
  uint32_t next_hop; /* the address whose MAC fills in the frame's destination */
  uint16_t len;
  uint8_t frame[VNET_FRAME_MAX];
};

struct vnet_udp_binding {
  uint16_t port; /* 0: free */
  vnet_udp_handler handler;
  void *ctx;
};

struct vnet {
  struct vnet_config cfg;
  struct vnet_driver drv;
  uint32_t netmask;
  uint16_t ip_id; /* the next IPv4 identification: counts, so a replay gets the same */
  struct vnet_arp_entry arp[VNET_ARP_CACHE_SIZE];
  /* FIFO: pending[0] is the oldest, so a next hop's packets leave in the order they came. */
  struct vnet_pending pending[VNET_ARP_PENDING_MAX];
  size_t pending_count;
  struct vnet_udp_binding udp[VNET_UDP_BINDINGS];
  struct vnet_stats stats;
  /* Where outgoing frames are built, in place, layer by layer. */
  uint8_t tx[VNET_FRAME_MAX];
};

/* ---- the stack ---- */

/* Starts the stack: empty ARP cache, no bindings, zero counters. Copies cfg and drv. Returns
 * VNET_ERR_INVALID (and leaves the stack unusable) for a multicast or zero MAC, an IP of 0, a
 * prefix over 32, a gateway off the subnet, an MTU out of range or a driver without
 * send_frame. Sends nothing: call vnet_announce to tell the subnet. */
int vnet_init(struct vnet *net, const struct vnet_config *cfg, const struct vnet_driver *drv);

/* Handles one received Ethernet frame (without FCS): answers ARP requests for our address,
 * learns from ARP (RFC 826's merge, so only peers that talk ARP to us or that we asked for),
 * answers ICMP echo requests, delivers UDP datagrams to their bindings, and sends packets that
 * were waiting for a MAC the frame told. Anything malformed or not for us is dropped and
 * counted, never trusted: the bytes are only read, and only within len. now_ns stamps what the
 * frame teaches. */
void vnet_input(struct vnet *net, const uint8_t *frame, size_t len, uint64_t now_ns);

/* Runs the timers that are due at now_ns: resends ARP requests for pending packets, drops the
 * packets of a next hop that never answered (tx_drop_arp_failed), forgets expired ARP entries.
 * Returns vnet_next_deadline. */
uint64_t vnet_poll(struct vnet *net, uint64_t now_ns);

/* When vnet_poll next has work (an ARP retry), or UINT64_MAX when none. An expired ARP entry
 * needs no wake-up: lookups ignore it, and the next vnet_poll frees it. Changes only through
 * vnet_input, vnet_poll and the send functions. */
uint64_t vnet_next_deadline(const struct vnet *net);

/* Broadcasts a gratuitous ARP (an ARP request from and for our own address), so that every
 * peer that knows our address updates it to our MAC: a backup that went live with the
 * primary's address says so. */
void vnet_announce(struct vnet *net);

/* The counters; valid as long as net. */
const struct vnet_stats *vnet_get_stats(const struct vnet *net);

/* Binds a port: datagrams to it (at our address or a broadcast) go to handler(ctx, ...).
 * VNET_ERR_INVALID for port 0 or no handler, VNET_ERR_IN_USE, or VNET_ERR_FULL. */
int vnet_udp_bind(struct vnet *net, uint16_t port, vnet_udp_handler handler, void *ctx);
/* VNET_ERR_NOT_FOUND when the port is not bound. */
int vnet_udp_unbind(struct vnet *net, uint16_t port);

/* The largest UDP payload a datagram can carry at this stack's MTU (MTU - 20 - 8). */
size_t vnet_udp_max_payload(const struct vnet *net);
/* Sends one datagram from our address. Copies data before it returns. Off-subnet destinations
 * go through the gateway; 255.255.255.255 and the subnet's broadcast go to every host. When
 * the next hop's MAC is not known the stack asks for it and holds the datagram; it leaves when
 * the answer comes, or is dropped after VNET_ARP_MAX_REQUESTS (tx_drop_arp_failed), as UDP may
 * lose any datagram. Returns VNET_OK when sent or held; VNET_ERR_INVALID for port 0 or NULL
 * data with len > 0; VNET_ERR_TOO_BIG past vnet_udp_max_payload; VNET_ERR_NO_ROUTE for our own
 * address, 0, loopback, multicast, or off-subnet without a gateway; VNET_ERR_NO_BUFFER when
 * the pending queue is full. */
int vnet_udp_send(struct vnet *net, uint32_t dst_ip, uint16_t dst_port, uint16_t src_port,
                  const void *data, size_t len, uint64_t now_ns);

#ifdef __cplusplus
}
#endif

#endif /* VMFT_VNET_H */
