/* A guest on the frame NIC with the SDK's own stack (guest/net): answers ARP and ping, and
   echoes UDP datagrams on port 7 with the number of frames it has taken in so far. A datagram
   "quit" ends it with exit code 0. */
#include <stdio.h>

#include "vmft.h"
#include "vnet.h"

#define ECHO_PORT 7

static struct vnet net;
static uint8_t rx_area[VMFT_NIC_RX_SLOTS * 2048];
static int quit;

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
  const int head = snprintf(reply, sizeof reply, "%llu ",
                            (unsigned long long)vnet_get_stats(&net)->rx_frames);
  if (len > sizeof reply - (size_t)head) len = sizeof reply - (size_t)head;
  memcpy(reply + head, data, len);
  vnet_udp_send(&net, src_ip, src_port, dst_port, reply, (size_t)head + len,
                vmft_clock_mono_ns());
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
                            .mtu = (uint16_t)(nic.mtu > VNET_MTU_MAX ? VNET_MTU_MAX : nic.mtu)};
  memcpy(cfg.mac, nic.mac, sizeof cfg.mac);
  const struct vnet_driver drv = {.ctx = NULL, .send_frame = send_frame};
  if (vnet_init(&net, &cfg, &drv) != VNET_OK || vmft_nic_init(rx_area, sizeof rx_area) != 0 ||
      vnet_udp_bind(&net, ECHO_PORT, on_datagram, NULL) != VNET_OK) {
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
      vmft_nic_ack();
    }
    const uint64_t deadline = vnet_poll(&net, vmft_clock_mono_ns());
    vmft_nic_flush();
    if (!quit) vmft_nic_wait(deadline);
  }
  printf("frames: %llu frames in, %llu out\n", (unsigned long long)vnet_get_stats(&net)->rx_frames,
         (unsigned long long)vnet_get_stats(&net)->tx_frames);
  return 0;
}
