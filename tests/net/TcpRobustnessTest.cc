// Every TCP flag combination, at sequence numbers in and out of the window, on an established
// connection and on a listener, then thousands of random segments: nothing crashes, every
// frame counts once, only well-formed frames leave, and the TCP state stays consistent
// (TcpInvariants.h).
#include <random>

#include "TcpInvariants.h"
#include "TcpTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetTcpRobustness : public VnetTcp {
 protected:
  void check(const std::string& what) {
    EXPECT_EQ(tcp_inconsistency(net_), "") << what;
    EXPECT_EQ(rx_accounted(stats()), stats().rx_frames) << what;
    for (const auto& f : sent_) EXPECT_EQ(malformation(f), "") << what;
    sent_.clear();
  }
  uint64_t peer_refresh_ = 0;
};

TEST_F(VnetTcpRobustness, EveryFlagCombinationOnAnEstablishedConnection) {
  for (unsigned flags = 0; flags < 64; flags++) {
    for (uint32_t seq_off : {0u, 1u, 5000u, 0x80000000u}) {
      for (bool with_data : {false, true}) {
        restart(default_config());
        SetUp();
        int sock = connect_peer();
        ASSERT_GE(sock, 0);
        ASSERT_EQ(write(sock, bytes("pending")), 7);
        const std::string what = "flags " + std::to_string(flags) + " seq+" +
                                 std::to_string(seq_off) + (with_data ? " data" : "");
        seg_in(kPeerIsn + 1 + seq_off, our_isn_ + 1 + (flags & 1), uint8_t(flags),
               with_data ? bytes("xyz") : Frame{});
        check(what);
        poll(10 * kSecond);
        check(what + ", then a timer");
        Frame buf(64);
        vnet_tcp_read(&net_, sock, buf.data(), buf.size(), 10 * kSecond);
        vnet_tcp_close(&net_, sock, 10 * kSecond);
        check(what + ", then closed");
      }
    }
  }
}

TEST_F(VnetTcpRobustness, EveryFlagCombinationOnAListener) {
  for (unsigned flags = 0; flags < 64; flags++) {
    for (bool with_data : {false, true}) {
      seg_in(7777 * flags, 4242, uint8_t(flags), with_data ? bytes("xyz") : Frame{}, 8192, 0,
             uint16_t(30000 + flags));
      const std::string what = "flags " + std::to_string(flags);
      check(what);
    }
  }
  // Only a lone SYN (PSH and URG aside) opens a connection: as many as the backlog takes.
  int half_open = 0;
  for (int i = 0; i < int(kTcpConns); i++) half_open += state(i) == VNET_TCP_SYN_RECEIVED;
  EXPECT_EQ(half_open, 4);
  poll(100 * kSecond);
  check("after the timers");
}

TEST_F(VnetTcpRobustness, RandomSegmentsAroundTheWindowKeepTheStateConsistent) {
  std::mt19937_64 rng(20261207);
  int sock = connect_peer();
  ASSERT_GE(sock, 0);
  uint64_t now = 0;
  const uint32_t base_seq = kPeerIsn + 1, base_ack = our_isn_ + 1;
  for (int i = 0; i < 20000; i++) {
    now += rng() % (50 * kMs);
    const uint32_t seq = base_seq + uint32_t(rng() % 12000) - 2000;
    const uint32_t ack = base_ack + uint32_t(rng() % 12000) - 2000;
    const uint8_t flags = uint8_t(rng() % 64) | (rng() % 4 ? kAck : 0);
    Frame data(rng() % 4 == 0 ? rng() % 1400 : 0, uint8_t(i));
    const uint16_t sport = rng() % 8 == 0 ? uint16_t(30000 + rng() % 16) : kPeerPort;
    seg_in(seq, ack, flags, data, uint16_t(rng() % 3 == 0 ? 0 : rng() % 9000), now, sport);
    switch (rng() % 8) {
      case 0: vnet_tcp_write(&net_, sock, data.data(), data.size(), now); break;
      case 1: {
        Frame buf(rng() % 3000);
        vnet_tcp_read(&net_, sock, buf.data(), buf.size(), now);
        break;
      }
      case 2: poll(now); break;
      case 3: {
        int s = vnet_tcp_accept(&net_, listener_);
        if (s >= 0 && rng() % 2) vnet_tcp_close(&net_, s, now);
        break;
      }
      default: break;
    }
    ASSERT_EQ(tcp_inconsistency(net_), "") << "step " << i;
    for (const auto& f : sent_) ASSERT_EQ(malformation(f), "") << "step " << i;
    sent_.clear();
    if (peer_refresh_++ % 500 == 0) peer_asks_for_us(kPeerMac, kPeerIp, now);
  }
  EXPECT_EQ(rx_accounted(stats()), stats().rx_frames);
  EXPECT_GT(stats().rx_delivered, 1000u);  // the connection took part, not just the closed port
}

}  // namespace
}  // namespace vmft::net_test
