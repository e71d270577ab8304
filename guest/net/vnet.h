/*
 * vnet: a guest's own TCP/IP stack over raw Ethernet frames: Ethernet, ARP, IPv4, ICMP echo,
 * UDP and TCP.
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
#define VNET_ERR_INVALID (-1)     /* a bad argument: a config out of range, port 0, NULL data */
#define VNET_ERR_TOO_BIG (-2)     /* the packet would not fit the MTU (the stack never fragments) */
#define VNET_ERR_NO_ROUTE (-3)    /* off-subnet with no gateway, or an address nothing can reach */
#define VNET_ERR_NO_BUFFER (-4)   /* the ARP pending queue is full: try again later */
#define VNET_ERR_IN_USE (-5)      /* the UDP port is bound already */
#define VNET_ERR_FULL (-6)        /* every UDP binding is taken */
#define VNET_ERR_NOT_FOUND (-7)   /* unbinding a port that is not bound */
#define VNET_ERR_WOULD_BLOCK (-8) /* TCP: nothing to accept or read, no room to write, yet */
#define VNET_ERR_RESET (-9)       /* TCP: the peer reset (or refused) the connection */
#define VNET_ERR_TIMED_OUT (-10)  /* TCP: the peer stopped acknowledging; we gave up */
#define VNET_ERR_CLOSED (-11)     /* TCP: writing after shutdown, or no such open socket */

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

/* TCP control blocks: the caller gives the stack an array of them (vnet_config.tcp_conns), one
 * per connection in any state from SYN_RECEIVED to TIME_WAIT, each about 8.3 KiB with its
 * buffers. At most this many: handles are small ints, and a listener's backlog fits 16 bits. */
#define VNET_TCP_CONNS_MAX 4096
/* Ports listened on at once: a few services, as VNET_UDP_BINDINGS. */
#define VNET_TCP_LISTENERS 4
/* Each connection's receive and send buffers. 4 KiB is a window of almost three 1460-byte
 * segments, under RFC 3390's initial window (4380 bytes): no congestion window would ever
 * limit what one buffer can have in flight, so the stack keeps none. At a LAN's 1 ms RTT it
 * moves 4 MB/s each way, plenty for a guest whose every frame is logged. The window is not
 * scaled (RFC 7323): 4 KiB fits the 16-bit field. */
#define VNET_TCP_RX_BUF 4096
#define VNET_TCP_TX_BUF 4096
/* Out-of-order ranges held per connection; their bytes sit in the receive buffer at their
 * place, so a range costs 8 bytes. Four gaps in a 4 KiB window is more than three segments
 * can make. A segment that would need a fifth range is dropped (and retransmitted later). */
#define VNET_TCP_OOO_RANGES 4
/* RFC 6298: the first RTO is 1 s; the floor is Linux's 200 ms (RFC 6298 says 1 s, which on a
 * LAN makes every loss a long stall); the ceiling is RFC 6298's 60 s. */
#define VNET_TCP_RTO_INIT_NS 1000000000ull
#define VNET_TCP_RTO_MIN_NS 200000000ull
#define VNET_TCP_RTO_MAX_NS 60000000000ull
/* Retransmissions of one segment before the connection is given up (VNET_ERR_TIMED_OUT):
 * with backoff from the 200 ms floor that is about 160 s (from the first RTO of 1 s, about
 * 300 s), past RFC 1122's R2 ("at least 100 s"). A SYN-ACK
 * gets fewer: a half-open block that never completes is freed after about 30 s. A connection
 * the caller closed also gives up after this many zero-window probes (Linux's
 * tcp_orphan_retries), and is reset: nobody will read its side again, and it should be held
 * no longer than one whose data go unacknowledged. One the caller holds probes for as long as
 * the peer keeps its window shut (RFC 1122 4.2.2.17). */
#define VNET_TCP_MAX_RETRIES 9
#define VNET_TCP_SYN_RETRIES 4
/* The maximum segment lifetime. RFC 793's 2 minutes is for the Internet of 1981; a guest's
 * peers sit behind a TAP bridge, where a segment cannot survive seconds, and the ISN clock
 * (RFC 6528) moves past an old incarnation's numbers in any case. TIME_WAIT lasts 2 MSL. */
#define VNET_TCP_MSL_NS 2000000000ull
/* How long a connection the caller has closed waits in FIN_WAIT_2 for the peer's FIN: Linux's
 * tcp_fin_timeout. The peer has acknowledged our FIN, and nobody will read what it might still
 * send (data after a close resets), so the wait only lets its FIN end the connection
 * gracefully; a peer that crashed or never closes would otherwise hold the block for good,
 * and a server's pool would drain. A minute is longer than any peer that means to close takes,
 * and what Linux servers have taught clients to expect. A connection the caller still holds
 * (vnet_tcp_shutdown: half-closed) has no such limit: it is reading. */
#define VNET_TCP_FIN_WAIT_2_NS 60000000000ull

/* ---- configuration and driver ---- */

struct vnet_tcp_conn; /* below */

struct vnet_config {
  uint8_t mac[6];     /* the guest's own unicast MAC */
  uint32_t ip;        /* the guest's address (not 0) */
  uint8_t prefix_len; /* the subnet's prefix, 0 to 32 */
  uint32_t gateway;   /* the next hop for off-subnet addresses, on the subnet; 0 for none */
  uint16_t mtu;       /* largest IP packet, VNET_MTU_MIN to VNET_MTU_MAX; 0 means 1500 */
  /* The key of TCP's initial sequence numbers (RFC 6528): ISN = 4 us clock + SipHash of the
   * 4-tuple under this key. A guest fills it from vmft's entropy device, which the log
   * carries, so a replay or a backup gets the same numbers while peers cannot guess them.
   * All zeros is valid, and makes the numbers predictable (fine for tests). */
  uint8_t tcp_secret[16];
  /* TCP's control blocks, with their buffers: the caller owns the array and gives each stack
   * its own; vnet_init clears it and the stack uses it from then on. Their number bounds the
   * connections at once, half-open and TIME_WAIT ones included (TIME_WAIT blocks are reused
   * when the pool runs out). NULL and 0: no TCP. */
  struct vnet_tcp_conn *tcp_conns;
  size_t tcp_conn_count; /* at most VNET_TCP_CONNS_MAX */
  /* Delayed ACKs: an in-order data segment is not acknowledged at once but by the next
   * segment the connection sends (a server's reply), or by vnet_poll, whichever comes first;
   * a second one, out-of-order data and a FIN are acknowledged at once (RFC 1122 4.2.3.2,
   * RFC 5681 4.2). A request then costs the guest one frame out, its reply, where it cost two.
   * The delay needs no timer: vnet_next_deadline says poll at once while an ACK is owed, so a
   * caller that polls after its application has answered (and before it waits) sends every
   * owed ACK within the same round. 0: every data segment is acknowledged at once. */
  uint8_t delay_acks;
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
  uint64_t rx_delivered; /* frames used: ARP handled, echo answered, UDP or TCP delivered */

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
  uint64_t rx_drop_ip_protocol;   /* neither ICMP, UDP nor TCP */

  uint64_t rx_drop_icmp_malformed; /* shorter than an ICMP header */
  uint64_t rx_drop_icmp_checksum;
  uint64_t rx_drop_icmp_type; /* anything but an echo request */

  uint64_t rx_drop_udp_malformed; /* shorter than its header, or its length field is wrong */
  uint64_t rx_drop_udp_checksum;
  uint64_t rx_drop_udp_no_port; /* no binding for the destination port */

  uint64_t rx_drop_tcp_malformed; /* shorter than its header, bad data offset, port 0 */
  uint64_t rx_drop_tcp_checksum;
  uint64_t rx_drop_tcp_no_port;  /* no connection or listener: answered with a RST */
  uint64_t rx_drop_tcp_rejected; /* not acceptable to its connection or listener (out of the
                                  * window, a bad ACK, a full backlog): answered as RFC 9293
                                  * says, with an ACK, a RST or nothing */

  uint64_t rx_drop_no_reply; /* understood, but its reply could not be sent (see tx_drop_*) */

  uint64_t tx_frames;       /* frames handed to send_frame */
  uint64_t tx_arp_requests; /* ARP requests sent, first tries and retries */
  uint64_t tx_drop_too_big; /* a reply or datagram larger than the MTU */
  uint64_t tx_drop_no_route;
  uint64_t tx_drop_pending_full; /* no pending slot for a packet waiting for ARP */
  uint64_t tx_drop_arp_failed;   /* pending packets dropped: their next hop never answered */

  uint64_t tcp_retransmits;      /* segments sent again: timeouts and fast retransmits */
  uint64_t tcp_fast_retransmits; /* on three duplicate ACKs */
  uint64_t tcp_resets_sent;
  uint64_t tcp_syn_evicted; /* half-open connections dropped for a newer SYN (a full backlog) */
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

/* A sequence range [start, end) received out of order, held in the receive buffer. */
struct vnet_tcp_range {
  uint32_t start, end;
};

/* A TCP control block. The receive buffer is a ring: rx_len bytes in order from rx_head, then
 * the out-of-order ranges at their offsets past rcv_nxt. The send buffer is a ring of tx_len
 * bytes from tx_head, the first of them at sequence number tx_seq (unacknowledged, then
 * unsent). */
struct vnet_tcp_conn {
  uint8_t state;    /* VNET_TCP_* state (below); VNET_TCP_CLOSED and !owned: free */
  uint8_t owned;    /* the caller holds the handle (accepted or connected, not yet closed) */
  uint8_t listener; /* 1 + the index of the listener that made it, until accepted; else 0 */
  uint8_t timer;    /* what deadline_ns is for: VNET_TCP_TIMER_* (vnet_internal.h) */
  uint8_t fin_queued, fin_received, dupacks, retries;
  uint8_t rtt_timing, rtt_sampled, ooo_count; /* rtt_sampled: srtt_ns and rttvar_ns are set */
  uint8_t ack_owed; /* delay_acks: in-order data came in that no segment has acknowledged */
  int16_t error; /* VNET_ERR_RESET or VNET_ERR_TIMED_OUT once the connection died */
  uint32_t remote_ip;
  uint16_t local_port, remote_port;
  uint16_t mss;   /* the most we send in one segment: the peer's MSS option and our MTU */
  uint32_t order; /* creation order: the oldest half-open one is evicted, the oldest accepted */
  uint32_t iss, irs;
  uint32_t snd_una, snd_nxt, snd_max, snd_wnd, snd_wl1, snd_wl2;
  uint32_t rcv_nxt, rcv_adv; /* rcv_adv: the right edge of the window last advertised */
  uint32_t rtt_seq, tx_seq;
  uint64_t deadline_ns, rtt_start_ns;
  uint64_t srtt_ns, rttvar_ns, rto_ns;
  uint16_t rx_head, rx_len, tx_head, tx_len;
  struct vnet_tcp_range ooo[VNET_TCP_OOO_RANGES];
  uint8_t rx[VNET_TCP_RX_BUF];
  uint8_t tx[VNET_TCP_TX_BUF];
  /* In vnet_tcp_next_changed's list (changed_next: the next handle, or -1). Past the buffers,
   * so that reusing the block (which clears what comes before them) leaves the list whole. */
  uint8_t changed;
  int16_t changed_next;
};

struct vnet_tcp_listener {
  uint16_t port; /* 0: free */
  uint16_t backlog;
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
  struct vnet_tcp_listener tcp_listeners[VNET_TCP_LISTENERS];
  struct vnet_tcp_conn *tcp; /* cfg.tcp_conns */
  size_t tcp_count;          /* cfg.tcp_conn_count */
  int16_t changed_head, changed_tail; /* vnet_tcp_next_changed's list, -1 when empty */
  uint32_t tcp_order;                 /* the next vnet_tcp_conn.order */
  uint16_t tcp_next_port; /* the next ephemeral port to try for vnet_tcp_connect */
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
 * packets of a next hop that never answered (tx_drop_arp_failed), forgets expired ARP entries;
 * TCP's retransmissions, zero-window probes, TIME_WAIT expiries and closed connections' FIN_WAIT_2
 * timeouts, and the ACKs owed under delay_acks. Returns
 * vnet_next_deadline. */
uint64_t vnet_poll(struct vnet *net, uint64_t now_ns);

/* When vnet_poll next has work (an ARP retry, a TCP timer; 0, at once, while an ACK is owed),
 * or UINT64_MAX when none. An
 * expired ARP entry needs no wake-up: lookups ignore it, and the next vnet_poll frees it.
 * Changes only through vnet_input, vnet_poll and the send and vnet_tcp_* functions. */
uint64_t vnet_next_deadline(const struct vnet *net);

/* Broadcasts a gratuitous ARP (an ARP request from and for our own address), so that every
 * peer that knows our address updates it to our MAC: a backup that went live with the
 * primary's address says so. */
void vnet_announce(struct vnet *net);

/* The link moved: our frames now leave from another port (a backup took its primary's place,
 * with this stack's state). Tells the network at once instead of when timers run: announces
 * our MAC as vnet_announce does, so that switches learn the new port, and on every
 * synchronized TCP connection resends what is unacknowledged (as far as the peer's window
 * goes) and sends the peer
 * VNET_TCP_LINK_DUPACKS duplicate ACKs, so that a peer still waiting for the ACK of a segment
 * that never reached us resends it by fast retransmit (RFC 5681: three duplicate ACKs), not
 * after its retransmission timeout (Linux's is 200 ms at least). */
void vnet_link_moved(struct vnet *net, uint64_t now_ns);
#define VNET_TCP_LINK_DUPACKS 3

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

/* ---- TCP (RFC 9293) ----
 *
 * Handles are small integers: a listener's from vnet_tcp_listen, a connection's from
 * vnet_tcp_accept or vnet_tcp_connect (an index into the pool, reused after close).
 *
 * Readiness is polled, not called back: after each vnet_input and vnet_poll, a main loop calls
 * vnet_tcp_accept on its listeners until VNET_ERR_WOULD_BLOCK, and vnet_tcp_events on each
 * connection it holds. With a pool of tens of connections that is a short loop, and no
 * stack code runs inside the caller's code (or the reverse). Every call that may send takes
 * now_ns, for the timers it arms. */

/* vnet_tcp_events' bits. */
#define VNET_TCP_READABLE 1u /* vnet_tcp_read has data, or an end (EOF, an error) to report */
#define VNET_TCP_WRITABLE 2u /* connected, not shut down, with room in the send buffer */
#define VNET_TCP_EOF 4u      /* the peer sent FIN and every byte before it has been read */
#define VNET_TCP_ERROR 8u    /* reset or timed out: read and write return the error */
#define VNET_TCP_SENT 16u    /* everything written (and our FIN, if shut down) is acknowledged */

/* Listens on port with a backlog (half-open plus not-yet-accepted connections) of 1 to the
 * pool's size (vnet_config.tcp_conn_count); more is capped. A server with one port gives it the
 * whole pool, so that a burst of clients connecting at once all get in; one with several ports
 * gives each a share, so that a flood on one leaves blocks for the others (a flood never takes
 * established connections: it only recycles half-open ones). A SYN beyond a full backlog replaces the oldest
 * half-open connection, or is dropped when all are established (the peer retries). Returns
 * the listener's handle, or VNET_ERR_INVALID (port 0, backlog 0), VNET_ERR_IN_USE,
 * VNET_ERR_FULL (every listener taken, or a stack without TCP blocks). */
int vnet_tcp_listen(struct vnet *net, uint16_t port, unsigned backlog);
/* Stops listening; the connections it had not handed out are reset. VNET_ERR_NOT_FOUND for
 * a handle that is not a listener's. */
int vnet_tcp_unlisten(struct vnet *net, int listener, uint64_t now_ns);
/* The oldest established connection of a listener not yet accepted: its handle, or
 * VNET_ERR_WOULD_BLOCK, or VNET_ERR_INVALID for a bad listener. */
int vnet_tcp_accept(struct vnet *net, int listener);
/* Opens a connection to ip:port from local_port (0: the next free port from 49152). Returns
 * the handle at once (the SYN is out, or held for ARP); it becomes WRITABLE when established,
 * or READABLE with VNET_ERR_RESET / VNET_ERR_TIMED_OUT. VNET_ERR_FULL when no block is free. */
int vnet_tcp_connect(struct vnet *net, uint32_t ip, uint16_t port, uint16_t local_port,
                     uint64_t now_ns);

/* Copies up to len received bytes into buf. Returns how many (> 0), 0 at the end of the
 * peer's data (it sent FIN), VNET_ERR_WOULD_BLOCK, VNET_ERR_RESET or VNET_ERR_TIMED_OUT, or
 * VNET_ERR_CLOSED for a handle not held; 0 for len 0. May send a window update. The buffers
 * hold at most VNET_TCP_RX_BUF bytes, so the count fits an int. */
int vnet_tcp_read(struct vnet *net, int sock, void *buf, size_t len, uint64_t now_ns);
/* Queues up to len bytes and sends what the peer's window allows. Returns how many were taken
 * (> 0; fewer than len when the buffer fills), VNET_ERR_WOULD_BLOCK when it is full, an error
 * of a dead connection, or VNET_ERR_CLOSED after shutdown; 0 for len 0. Bytes written before the
 * connection is established leave when it is. */
int vnet_tcp_write(struct vnet *net, int sock, const void *data, size_t len, uint64_t now_ns);
/* Sends FIN after what was written; the handle can still read, and FIN_WAIT_2 lasts until the
 * peer's FIN (half-close: no timeout while the caller holds the handle). */
int vnet_tcp_shutdown(struct vnet *net, int sock, uint64_t now_ns);
/* Gives the handle back: a graceful close (shutdown, then FIN_WAIT and TIME_WAIT on their
 * own), or a RST when received data was left unread (RFC 1122 4.2.2.13). Data arriving
 * after close resets the connection too. Its block is freed once the peer has closed as well,
 * or VNET_TCP_FIN_WAIT_2_NS after the peer acknowledged our FIN without sending its own, or
 * reset after VNET_TCP_MAX_RETRIES probes of a window the peer keeps shut. */
int vnet_tcp_close(struct vnet *net, int sock, uint64_t now_ns);
/* Resets the connection (RST) and gives the handle back. */
int vnet_tcp_abort(struct vnet *net, int sock, uint64_t now_ns);
/* The next connection the stack changed since it last came out of here, or -1 when none: a
 * segment arrived for it (data, a FIN, an ACK that made room to write, the handshake's end, a
 * RST) or one of its timers ran (and may have given up on it). Handles come out in the order
 * of their first change, each once until it changes again. A caller with many connections
 * visits only these after vnet_input and vnet_poll instead of asking every one it holds; a
 * handle may come out that it does not hold (a listener's new connection, to accept, or one
 * the stack freed since). */
int vnet_tcp_next_changed(struct vnet *net);
/* VNET_TCP_* bits for a held handle; 0 for anything else. */
unsigned vnet_tcp_events(const struct vnet *net, int sock);
/* The peer's address and port, for a held handle; VNET_ERR_CLOSED for anything else. */
int vnet_tcp_peer(const struct vnet *net, int sock, uint32_t *ip, uint16_t *port);
/* The connection's RFC 9293 state (VNET_TCP_STATE_*), for tests and diagnostics; -1 for a
 * handle not in use. */
int vnet_tcp_state(const struct vnet *net, int sock);

#define VNET_TCP_CLOSED 0
#define VNET_TCP_SYN_SENT 1
#define VNET_TCP_SYN_RECEIVED 2
#define VNET_TCP_ESTABLISHED 3
#define VNET_TCP_FIN_WAIT_1 4
#define VNET_TCP_FIN_WAIT_2 5
#define VNET_TCP_CLOSE_WAIT 6
#define VNET_TCP_CLOSING 7
#define VNET_TCP_LAST_ACK 8
#define VNET_TCP_TIME_WAIT 9

#ifdef __cplusplus
}
#endif

#endif /* VMFT_VNET_H */
