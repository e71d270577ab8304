// The guest's network stack (guest/net) fed what a TAP device would hand it: a run of records,
// each a received frame, the passing of time (then vnet_poll), a datagram of the guest's own,
// or a TCP call. A TCP echo server listens on port 80 throughout. Every frame the stack sends
// must be well formed (tests/net/FrameCheck.h, with its own checksums), every frame received
// must be counted exactly once, and the TCP state must stay consistent
// (tests/net/TcpInvariants.h) after every record.
#include <algorithm>
#include <string>
#include <vector>

#include "FrameCheck.h"
#include "FuzzTargets.h"
#include "TcpInvariants.h"
#include "vnet.h"

namespace vmft::fuzz {
namespace {

using namespace vmft::net_test;

// A record: an op byte, a 16-bit big-endian length, then that many bytes (cut short at the end
// of the input). op % 4: 0 a frame; 1 a TCP call, TcpOp((op / 4) % 8) on connection
// (op / 32) % kTcpConns; 2 time passes by (op / 4) * 100 ms, then vnet_poll; 3 the
// guest sends the bytes as a datagram to kDestinations[(op / 4) % 6]. (Before TCP, op % 4 == 1
// was a frame too; the seeds only ever used 0.)
constexpr uint32_t kDestinations[] = {kPeerIp,          kGatewayIp, kRemoteIp,
                                      kSubnetBroadcast, kOurIp,     0x0a000277};
constexpr uint64_t kTick = 100 * 1000 * 1000;
constexpr uint16_t kEchoPort = 80;

enum class TcpOp { kListen, kAccept, kWrite, kRead, kShutdown, kClose, kAbort, kConnect };

struct Harness {
  std::vector<vnet_tcp_conn> conns = std::vector<vnet_tcp_conn>(kTcpConns);
  vnet net{};
  uint64_t now = 0;
  std::vector<std::vector<uint8_t>> sent;
};

// The bytes' first two as a port (0 when there are fewer).
uint16_t port_of(const uint8_t* bytes, size_t len) {
  return len >= 2 ? uint16_t(bytes[0] << 8 | bytes[1]) : 0;
}

void tcp_call(Harness& h, uint8_t op, const uint8_t* bytes, size_t len) {
  const int sock = (op / 32) % kTcpConns;
  switch (TcpOp((op / 4) % 8)) {
    case TcpOp::kListen:
      vnet_tcp_listen(&h.net, port_of(bytes, len), len >= 3 ? bytes[2] : 1);
      break;
    case TcpOp::kAccept: vnet_tcp_accept(&h.net, sock % VNET_TCP_LISTENERS); break;
    case TcpOp::kWrite: vnet_tcp_write(&h.net, sock, bytes, len, h.now); break;
    case TcpOp::kRead: {
      std::vector<uint8_t> buf(len);
      vnet_tcp_read(&h.net, sock, buf.data(), buf.size(), h.now);
      break;
    }
    case TcpOp::kShutdown: vnet_tcp_shutdown(&h.net, sock, h.now); break;
    case TcpOp::kClose: vnet_tcp_close(&h.net, sock, h.now); break;
    case TcpOp::kAbort: vnet_tcp_abort(&h.net, sock, h.now); break;
    case TcpOp::kConnect:
      vnet_tcp_connect(&h.net, kDestinations[op / 32 % std::size(kDestinations)],
                       port_of(bytes, len), len >= 4 ? port_of(bytes + 2, 2) : 0, h.now);
      break;
  }
}

// The echo server on port 80 (and whatever else the input listened on): it accepts, sends
// back what it reads as room allows, and closes at the peer's end or an error.
void serve_tcp_echo(Harness& h) {
  for (int listener = 0; listener < VNET_TCP_LISTENERS; listener++) {
    while (vnet_tcp_accept(&h.net, listener) >= 0) {
    }
  }
  for (int sock = 0; sock < int(kTcpConns); sock++) {
    const unsigned events = vnet_tcp_events(&h.net, sock);
    if ((events & (VNET_TCP_EOF | VNET_TCP_ERROR)) != 0) {
      vnet_tcp_close(&h.net, sock, h.now);
      continue;
    }
    if ((events & VNET_TCP_READABLE) == 0 || (events & VNET_TCP_WRITABLE) == 0) continue;
    uint8_t buf[512];
    const int n = vnet_tcp_read(&h.net, sock, buf, sizeof buf, h.now);
    if (n > 0) vnet_tcp_write(&h.net, sock, buf, size_t(n), h.now);
  }
}

void on_frame(void* ctx, const uint8_t* frame, size_t len) {
  static_cast<Harness*>(ctx)->sent.emplace_back(frame, frame + len);
}

// A UDP echo server on port 7000: its replies go through the send path too.
void echo(void* ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port, const uint8_t* data,
          size_t len) {
  auto* h = static_cast<Harness*>(ctx);
  vnet_udp_send(&h->net, src_ip, src_port, dst_port, data, len, h->now);
}

}  // namespace

void net_frame(Bytes data) {
  Harness h;
  const vnet_config config = with_tcp(default_config(), h.conns.data());
  const vnet_driver driver{&h, on_frame};
  expect(vnet_init(&h.net, &config, &driver) == VNET_OK, "vnet_init refused a good config");
  expect(vnet_udp_bind(&h.net, 7000, echo, &h) == VNET_OK, "vnet_udp_bind refused port 7000");
  expect(vnet_tcp_listen(&h.net, kEchoPort, 2) >= 0, "vnet_tcp_listen refused port 80");

  size_t pos = 0;
  while (pos + 3 <= data.size()) {
    const uint8_t op = data[pos];
    const size_t len =
        std::min<size_t>(size_t(data[pos + 1]) << 8 | data[pos + 2], data.size() - pos - 3);
    const uint8_t* bytes = data.data() + pos + 3;
    pos += 3 + len;
    switch (op % 4) {
      case 2:
        h.now += (op / 4) * kTick;
        expect(vnet_poll(&h.net, h.now) > h.now, "vnet_poll left a deadline already due");
        break;
      case 3:
        vnet_udp_send(&h.net, kDestinations[(op / 4) % std::size(kDestinations)], 9, 6000, bytes,
                      len, h.now);
        break;
      case 1: tcp_call(h, op, bytes, len); break;
      default: vnet_input(&h.net, bytes, len, h.now); break;
    }
    serve_tcp_echo(h);
    const std::string what = tcp_inconsistency(h.net);
    if (!what.empty()) throw PropertyViolated("the TCP state is inconsistent: " + what);
  }
  const vnet_stats& stats = *vnet_get_stats(&h.net);
  expect(rx_accounted(stats) == stats.rx_frames, "a received frame was not counted exactly once");
  expect(stats.tx_frames == h.sent.size(), "tx_frames is not the number of frames sent");
  for (const auto& frame : h.sent) {
    const std::string what = malformation(frame);
    if (!what.empty()) throw PropertyViolated("the stack sent a malformed frame: " + what);
  }
}

}  // namespace vmft::fuzz
