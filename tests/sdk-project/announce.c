/* Sends a gratuitous ARP for its address on the frame NIC and exits: the SDK's network stack
   built outside vmft's tree. */
#include <stdio.h>

#include "vmft.h"
#include "vnet.h"

static struct vnet net;

static void send_frame(void *ctx, const uint8_t *frame, size_t len) {
  (void)ctx;
  vmft_frame_send(frame, len);
}

int main(void) {
  static uint8_t rx_area[VMFT_NIC_RX_SLOTS * 2048];
  struct vmft_frame_nic nic;
  if (!vmft_frame_nic(&nic)) {
    printf("announce: no frame NIC (run with --tap)\n");
    return 2;
  }
  struct vnet_config cfg = {.ip = nic.ip, .prefix_len = nic.prefix_len, .mtu = 1500};
  memcpy(cfg.mac, nic.mac, sizeof cfg.mac);
  const struct vnet_driver drv = {.ctx = NULL, .send_frame = send_frame};
  if (vnet_init(&net, &cfg, &drv) != VNET_OK || vmft_nic_init(rx_area, sizeof rx_area) != 0) {
    return 1;
  }
  vnet_announce(&net);
  printf("announce: sent %llu frame\n", (unsigned long long)vnet_get_stats(&net)->tx_frames);
  return 0;
}
