// Thousands of random and mutated frames, with sends and timers between them, from one seed:
// nothing crashes, every frame counts once, and only well-formed frames come out. A seed run
// twice gives the same frames (the stack has no other input). VMFT_NET_SEED picks the seed.
#include <cstdlib>
#include <cstring>
#include <random>

#include "NetTestSupport.h"

namespace vmft::net_test {
namespace {

constexpr int kFrames = 20000;

uint64_t seed_from_env() {
  const char* text = std::getenv("VMFT_NET_SEED");
  return text != nullptr ? std::strtoull(text, nullptr, 0) : 20240611;
}

class VnetRandomFrames : public VnetTest {
 protected:
  struct Run {
    std::vector<Frame> sent;
    vnet_stats stats;
  };

  // Frames the stack would take, which mutations then break in every way.
  static std::vector<Frame> templates() {
    const Mac other{0x02, 0, 0, 0, 0, 0x77};
    return {
        arp_request_frame(kPeerMac, kPeerIp, kOurIp),
        arp_request_frame(kGatewayMac, kGatewayIp, kOurIp),
        arp_reply_frame(kPeerMac, kPeerIp),
        arp_reply_frame(other, 0x0a000277),
        eth(kBroadcastMac, kPeerMac, kArpType, arp(1, kPeerMac, kPeerIp, kZeroMac, kPeerIp)),
        echo_frame(kPeerIp, 1, 2, bytes("ping data")),
        echo_frame(kRemoteIp, 3, 4, Frame(100, 7), kGatewayMac),
        udp_frame(kPeerIp, kOurIp, 5000, 7000, bytes("to the echo port")),
        udp_frame(0x0a000277, kSubnetBroadcast, 68, 7000, bytes("bc"), other, kBroadcastMac),
        udp_frame(kRemoteIp, kOurIp, 53, 7001, Frame(1400, 1), kGatewayMac),
    };
  }

  static Frame mutate(Frame f, std::mt19937_64& rng) {
    auto pick = [&](size_t n) { return size_t(rng() % n); };
    switch (pick(7)) {
      case 0: break;  // intact
      case 1:         // flip a few bits
        for (size_t n = 1 + pick(4); n > 0 && !f.empty(); --n)
          f[pick(f.size())] ^= uint8_t(1 << pick(8));
        break;
      case 2: f.resize(pick(f.size() + 1)); break;  // truncated
      case 3:                                       // grown
        for (size_t n = pick(1600); n > 0; --n) f.push_back(uint8_t(rng()));
        break;
      case 4:  // a header byte replaced, the IP checksum repaired so later checks see it
        if (f.size() > kL4Off + 8) {
          f[pick(kL4Off + 8)] = uint8_t(rng());
          if ((f[kIpOff] & 0x0f) >= 5 && kIpOff + (f[kIpOff] & 0x0f) * 4u <= f.size()) {
            fix_ip_checksum(f);
          }
        }
        break;
      case 5:  // a length field lied about
        if (f.size() > kL4Off + 8) put16(f, pick(2) ? kIpOff + 2 : kL4Off + 4, uint16_t(rng()));
        break;
      default:  // noise
        f.resize(pick(1600));
        for (uint8_t& b : f) b = uint8_t(rng());
        break;
    }
    return f;
  }

  static void echo(void* ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
                   const uint8_t* data, size_t len) {
    auto* self = static_cast<VnetRandomFrames*>(ctx);
    vnet_udp_send(&self->net_, src_ip, src_port, dst_port, data, len, self->now_);
  }

  Run run(uint64_t seed) {
    restart(default_config());
    now_ = 0;
    EXPECT_EQ(vnet_udp_bind(&net_, 7000, &VnetRandomFrames::echo, this), VNET_OK);
    std::mt19937_64 rng(seed);
    const std::vector<Frame> bases = templates();
    const uint32_t destinations[] = {kPeerIp,          kGatewayIp, kRemoteIp, 0x0a000277,
                                     kSubnetBroadcast, kOurIp,     0};
    for (int i = 0; i < kFrames; ++i) {
      now_ += rng() % (300 * 1000 * 1000);
      const Frame f = mutate(bases[rng() % bases.size()], rng);
      input(f, now_);
      if (rng() % 8 == 0) {
        uint32_t dst = rng() % 4 == 0 ? 0x0a000200 | uint32_t(rng() % 256)
                                      : destinations[rng() % std::size(destinations)];
        Frame data(rng() % 1600, 0x42);
        vnet_udp_send(&net_, dst, 9, 6000, data.data(), data.size(), now_);
      }
      if (rng() % 4 == 0) {
        uint64_t next = vnet_poll(&net_, now_);
        EXPECT_GT(next, now_);
      }
      if (rng() % 500 == 0) vnet_announce(&net_);
    }
    return {sent_, stats()};
  }

  uint64_t now_ = 0;
};

TEST_F(VnetRandomFrames, SurviveAndOnlyWellFormedFramesComeOut) {
  const uint64_t seed = seed_from_env();
  SCOPED_TRACE("VMFT_NET_SEED=" + std::to_string(seed));
  const Run r = run(seed);
  EXPECT_EQ(r.stats.rx_frames, uint64_t(kFrames));
  EXPECT_EQ(rx_accounted(r.stats), r.stats.rx_frames);
  EXPECT_EQ(r.stats.tx_frames, r.sent.size());
  size_t bad = 0;
  for (const Frame& f : r.sent) {
    const std::string what = malformation(f);
    if (!what.empty() && ++bad <= 5) ADD_FAILURE() << what;
  }
  EXPECT_EQ(bad, 0u);
  // The run reached every layer: replies, held packets and drops of many kinds.
  EXPECT_GT(r.stats.rx_delivered, 100u);
  EXPECT_GT(r.stats.tx_arp_requests, 0u);
  EXPECT_GT(r.stats.rx_drop_ip_checksum, 0u);
  EXPECT_GT(r.stats.rx_drop_udp_checksum, 0u);
  EXPECT_GT(r.stats.rx_drop_arp_malformed, 0u);
}

TEST_F(VnetRandomFrames, ASeedRunTwiceSendsTheSameFrames) {
  const uint64_t seed = seed_from_env();
  SCOPED_TRACE("VMFT_NET_SEED=" + std::to_string(seed));
  const Run first = run(seed);
  const Run second = run(seed);
  EXPECT_EQ(first.sent, second.sent);
  EXPECT_EQ(std::memcmp(&first.stats, &second.stats, sizeof first.stats), 0);
}

}  // namespace
}  // namespace vmft::net_test
