/* echo: the RFC 862 echo service on UDP and TCP, port 7 when the guest owns its network.
 *
 * Each UDP datagram goes back to its sender; every byte received on a TCP connection goes
 * back on that connection, which is closed once the peer has closed its side.
 *
 * The guest keeps no per-connection state: each event is answered from its receive buffer
 * before it is acknowledged, and the SDK knows which connections exist (a send to one that
 * is gone fails harmlessly with VMFT_NIC_ERR_CONN). The same code serves on either NIC: the
 * host's sockets (--tcp, --udp) or the guest's own stack (--tap).
 */
#include "vmft.h"

/* Each receive buffer is sized to the largest UDP payload, so every datagram arrives whole. The
   NIC also cuts TCP payloads to the buffer size, so each received chunk goes back in one send
   request (whose limit is the same VMFT_NIC_MAX_PAYLOAD). */
static char rx_area[VMFT_NIC_RX_SLOTS * VMFT_NIC_MAX_PAYLOAD];

static void handle_event(const struct vmft_nic_event *ev) {
  switch (ev->kind) {
    case VMFT_NIC_KIND_UDP: vmft_udp_send(ev->peer_ip, ev->peer_port, ev->data, ev->len); break;
    case VMFT_NIC_KIND_TCP_DATA: vmft_tcp_send(ev->conn, ev->data, ev->len); break;
    case VMFT_NIC_KIND_TCP_CLOSE:
      /* Everything the peer sent has been echoed already: each chunk is answered on arrival. */
      vmft_tcp_close(ev->conn);
      break;
    default: /* TCP_OPEN needs no answer; unknown kinds are ignored. */ break;
  }
}

int main(void) {
  if (vmft_nic_init(rx_area, sizeof rx_area) != 0 || vmft_nic_listen(7, 7) != 0) {
    vmft_puts("echo: cannot start the NIC\n");
    return 1;
  }
  vmft_puts("echo: ready\n");
  vmft_nic_serve(handle_event);
}
