// The guest's network stack (guest/net) fed what a TAP device would hand it: a run of records,
// each a received frame, the passing of time (then vnet_poll) or a datagram of the guest's own.
// Every frame the stack sends must be well formed (tests/net/FrameCheck.h, with its own
// checksums), and every frame received must be counted exactly once.
#include <algorithm>
#include <string>
#include <vector>

#include "FrameCheck.h"
#include "FuzzTargets.h"
#include "vnet.h"

namespace vmft::fuzz {
namespace {

using namespace vmft::net_test;

// A record: an op byte, a 16-bit big-endian length, then that many bytes (cut short at the end
// of the input). op % 4: 0 and 1 a frame; 2 time passes by (op / 4) * 100 ms, then vnet_poll;
// 3 the guest sends the bytes as a datagram to kDestinations[(op / 4) % 6].
constexpr uint32_t kDestinations[] = {kPeerIp,          kGatewayIp, kRemoteIp,
                                      kSubnetBroadcast, kOurIp,     0x0a000277};
constexpr uint64_t kTick = 100 * 1000 * 1000;

struct Harness {
  vnet net{};
  uint64_t now = 0;
  std::vector<std::vector<uint8_t>> sent;
};

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
  static Harness h;  // 8 KiB of stack state: static, as in a guest
  h = Harness{};
  vnet_config config{};
  std::copy(kOurMac.begin(), kOurMac.end(), config.mac);
  config.ip = kOurIp;
  config.prefix_len = 24;
  config.gateway = kGatewayIp;
  config.mtu = 1500;
  const vnet_driver driver{&h, on_frame};
  expect(vnet_init(&h.net, &config, &driver) == VNET_OK, "vnet_init refused a good config");
  expect(vnet_udp_bind(&h.net, 7000, echo, &h) == VNET_OK, "vnet_udp_bind refused port 7000");

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
      default: vnet_input(&h.net, bytes, len, h.now); break;
    }
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
