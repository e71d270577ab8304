#pragma once
// What must hold of vnet's TCP state between any two calls, checked from outside (it reads the
// fields of struct vnet, which vnet.h declares only so that callers can place one statically).
// For vmft_net_tests and the net_frame fuzz target. Header-only and free of gtest.

#include <string>

#include "vnet.h"

namespace vmft::net_test {

inline bool seq_le(uint32_t a, uint32_t b) { return int32_t(a - b) <= 0; }
inline bool seq_lt(uint32_t a, uint32_t b) { return int32_t(a - b) < 0; }

// What is wrong with one control block, or "".
inline std::string tcp_conn_inconsistency(const vnet& net, const vnet_tcp_conn& c) {
  if (c.state > VNET_TCP_TIME_WAIT) return "unknown state";
  if (c.owned && c.listener != 0) return "held by the caller and still queued on a listener";
  if (c.listener > VNET_TCP_LISTENERS) return "listener out of range";
  if (c.listener != 0 && net.tcp_listeners[c.listener - 1].port == 0)
    return "queued on a listener that is gone";
  if (c.tx_len > VNET_TCP_TX_BUF || c.tx_head >= VNET_TCP_TX_BUF) return "send ring out of range";
  if (c.rx_len > VNET_TCP_RX_BUF || c.rx_head >= VNET_TCP_RX_BUF)
    return "receive ring out of range";
  if (c.state == VNET_TCP_CLOSED) return "";
  if (!seq_le(c.snd_una, c.snd_nxt) || !seq_le(c.snd_nxt, c.snd_max))
    return "not snd_una <= snd_nxt <= snd_max";
  const uint32_t tx_skew = c.tx_seq - c.snd_una;
  if (tx_skew != 0 && tx_skew != 1 && tx_skew != 0xffffffffu)
    return "the send buffer does not start at snd_una";
  if (!seq_le(c.snd_max, c.tx_seq + c.tx_len + 1)) return "sent past the written data and FIN";
  if (c.ooo_count > VNET_TCP_OOO_RANGES) return "too many out-of-order ranges";
  if (c.timer == 0 && c.deadline_ns != UINT64_MAX) return "a deadline without a timer";
  if (c.mss == 0) return "MSS 0";
  if (c.state == VNET_TCP_SYN_SENT) return "";
  const uint32_t free_edge = c.rcv_nxt + (VNET_TCP_RX_BUF - c.rx_len);
  if (!seq_le(c.rcv_nxt, c.rcv_adv) || !seq_le(c.rcv_adv, free_edge))
    return "advertised window not within the free buffer";
  for (size_t i = 0; i < c.ooo_count; i++) {
    const vnet_tcp_range& r = c.ooo[i];
    if (!seq_lt(c.rcv_nxt, r.start) || !seq_lt(r.start, r.end) || !seq_le(r.end, c.rcv_adv))
      return "out-of-order range outside the window";
  }
  return "";
}

// What is wrong with the stack's TCP state, or "".
inline std::string tcp_inconsistency(const vnet& net) {
  unsigned per_listener[VNET_TCP_LISTENERS] = {};
  for (size_t i = 0; i < net.tcp_count; i++) {
    const vnet_tcp_conn& c = net.tcp[i];
    std::string what = tcp_conn_inconsistency(net, c);
    if (!what.empty()) return "connection " + std::to_string(i) + ": " + what;
    if (c.state == VNET_TCP_CLOSED) continue;
    if (c.listener != 0) per_listener[c.listener - 1]++;
    for (size_t j = i + 1; j < net.tcp_count; j++) {
      const vnet_tcp_conn& d = net.tcp[j];
      if (d.state != VNET_TCP_CLOSED && d.remote_ip == c.remote_ip &&
          d.remote_port == c.remote_port && d.local_port == c.local_port)
        return "two connections for one 4-tuple";
    }
  }
  for (size_t l = 0; l < VNET_TCP_LISTENERS; l++) {
    if (per_listener[l] > net.tcp_listeners[l].backlog) return "a backlog overflowed";
  }
  return "";
}

}  // namespace vmft::net_test
