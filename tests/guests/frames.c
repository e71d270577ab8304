/* A guest on the frame NIC with the SDK's own stack (guest/net): answers ARP and ping, echoes
   UDP datagrams on port 7 with the number of frames it has taken in so far, and echoes TCP on
   port 7 (RFC 862), closing its side once the peer has closed its own and every byte went
   back. A datagram "quit" ends it with exit code 0. */
#include <stdio.h>

#include "vmft.h"
#include "vnet.h"

#define ECHO_PORT 7
#define TCP_CONNS 8

static struct vnet net;
static struct vnet_tcp_conn tcp_conns[TCP_CONNS];
static uint8_t rx_area[VMFT_NIC_RX_SLOTS * 2048];
static int quit;
static int listener;

/* A TCP echo connection, by handle: bytes read but not yet written back. */
static struct {
  int open;
  uint8_t pending[VNET_TCP_RX_BUF];
  size_t len;
} conns[TCP_CONNS];

static void send_frame(void *ctx, const uint8_t *frame, size_t len) {
  (void)ctx;
  vmft_frame_send(frame, len);
}

static void on_datagram(void *ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
                        const uint8_t *data, size_t len) {
  (void)ctx;
  if (len == 4 && memcmp(data, "quit", 4) == 0) {
    quit = 1;
    return;
  }
  char reply[1600];
  const int head =
      snprintf(reply, sizeof reply, "%llu ", (unsigned long long)vnet_get_stats(&net)->rx_frames);
  if (len > sizeof reply - (size_t)head) len = sizeof reply - (size_t)head;
  memcpy(reply + head, data, len);
  vnet_udp_send(&net, src_ip, src_port, dst_port, reply, (size_t)head + len, vmft_clock_mono_ns());
}

/* Echoes what each connection can take; closes a connection whose peer is done and whose bytes
   all went back, and drops one that failed. */
static void serve_tcp(uint64_t now) {
  int sock;
  while ((sock = vnet_tcp_accept(&net, listener)) >= 0) {
    conns[sock].open = 1;
    conns[sock].len = 0;
  }
  for (int s = 0; s < TCP_CONNS; s++) {
    if (!conns[s].open) continue;
    for (;;) {
      if (conns[s].len > 0) {
        const int n = vnet_tcp_write(&net, s, conns[s].pending, conns[s].len, now);
        if (n == VNET_ERR_WOULD_BLOCK) break;
        if (n < 0) {
          vnet_tcp_abort(&net, s, now);
          conns[s].open = 0;
          break;
        }
        memmove(conns[s].pending, conns[s].pending + n, conns[s].len - (size_t)n);
        conns[s].len -= (size_t)n;
        if (conns[s].len > 0) break;
      }
      const int n = vnet_tcp_read(&net, s, conns[s].pending, sizeof conns[s].pending, now);
      if (n > 0) {
        conns[s].len = (size_t)n;
        continue;
      }
      if (n == 0) {
        vnet_tcp_close(&net, s, now); /* the peer is done and everything went back */
        conns[s].open = 0;
      } else if (n != VNET_ERR_WOULD_BLOCK) {
        vnet_tcp_abort(&net, s, now);
        conns[s].open = 0;
      }
      break;
    }
  }
}

int main(void) {
  struct vmft_frame_nic nic;
  if (!vmft_frame_nic(&nic)) {
    printf("frames: no frame NIC (run with --tap)\n");
    return 2;
  }
  struct vnet_config cfg = {.ip = nic.ip,
                            .prefix_len = nic.prefix_len,
                            .gateway = nic.gateway,
                            .mtu = (uint16_t)(nic.mtu > VNET_MTU_MAX ? VNET_MTU_MAX : nic.mtu),
                            .tcp_conns = tcp_conns,
                            .tcp_conn_count = TCP_CONNS};
  memcpy(cfg.mac, nic.mac, sizeof cfg.mac);
  /* The key of the TCP sequence numbers: random (and logged, like every entropy read). */
  for (size_t i = 0; i < sizeof cfg.tcp_secret; i += 8) {
    const uint64_t r = vmft_entropy();
    memcpy(cfg.tcp_secret + i, &r, sizeof cfg.tcp_secret - i < 8 ? sizeof cfg.tcp_secret - i : 8);
  }
  const struct vnet_driver drv = {.ctx = NULL, .send_frame = send_frame};
  if (vnet_init(&net, &cfg, &drv) != VNET_OK || vmft_nic_init(rx_area, sizeof rx_area) != 0 ||
      vnet_udp_bind(&net, ECHO_PORT, on_datagram, NULL) != VNET_OK ||
      (listener = vnet_tcp_listen(&net, ECHO_PORT, TCP_CONNS / 2)) < 0) {
    printf("frames: cannot start\n");
    return 1;
  }
  vnet_announce(&net);
  vmft_nic_flush();
  printf("frames: ready\n");
  while (!quit) {
    struct vmft_nic_event ev;
    while (vmft_nic_peek(&ev)) {
      if (ev.kind == VMFT_NIC_KIND_FRAME) vnet_input(&net, ev.data, ev.len, vmft_clock_mono_ns());
      if (ev.kind == VMFT_NIC_KIND_LINK) vnet_link_moved(&net, vmft_clock_mono_ns());
      vmft_nic_ack();
    }
    const uint64_t now = vmft_clock_mono_ns();
    vnet_poll(&net, now);
    serve_tcp(now);
    const uint64_t deadline = vnet_next_deadline(&net);
    vmft_nic_flush();
    if (!quit) vmft_nic_wait(deadline);
  }
  printf("frames: %llu frames in, %llu out\n", (unsigned long long)vnet_get_stats(&net)->rx_frames,
         (unsigned long long)vnet_get_stats(&net)->tx_frames);
  return 0;
}
