// TCP's retransmissions, timed with explicit now_ns: RFC 6298's RTO from RTT samples, Karn's
// rule, exponential backoff, giving up, and fast retransmit on three duplicate ACKs.
#include "TcpTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetTcpRetransmit : public VnetTcp {
 protected:
  void SetUp() override {
    VnetTcp::SetUp();
    // A handshake that takes 100 ms: SYN-ACK at 0, the ACK at 100 ms.
    seg_in(kPeerIsn, 0, kSyn, {}, 8192, 0, kPeerPort, mss_option(1000));
    our_isn_ = take_seg().seq;
    seg_in(kPeerIsn + 1, our_isn_ + 1, kAck, {}, 8192, 100 * kMs);
    sock_ = vnet_tcp_accept(&net_, listener_);
    ASSERT_GE(sock_, 0);
    rcv_ = kPeerIsn + 1;
    snd_ = our_isn_ + 1;
  }
  void ack(uint32_t off, uint64_t now, uint16_t window = 8192) {
    seg_in(rcv_, snd_ + off, kAck, {}, window, now);
  }
  int sock_ = -1;
  uint32_t rcv_ = 0, snd_ = 0;
};

TEST_F(VnetTcpRetransmit, FirstSampleSetsTheRto) {
  // SRTT = 100 ms, RTTVAR = 50 ms: RTO = 100 + 4 * 50 = 300 ms.
  EXPECT_EQ(net_.tcp[sock_].rto_ns, 300 * kMs);
  ASSERT_EQ(write(sock_, bytes("x"), 1000 * kMs), 1);
  take_seg();
  EXPECT_EQ(poll(1000 * kMs), 1300 * kMs);
}

// A deadline that would land exactly on UINT64_MAX saturates below it: UINT64_MAX means no
// deadline at all, and the segment in flight would never be retransmitted.
TEST_F(VnetTcpRetransmit, ATimeoutEndingExactlyAtTheClocksEndStillFires) {
  const uint64_t late = UINT64_MAX - 300 * kMs;  // the RTO from before
  peer_asks_for_us(kPeerMac, kPeerIp, late);
  ASSERT_EQ(write(sock_, bytes("x"), late), 1);
  take_seg();
  EXPECT_EQ(poll(late), UINT64_MAX - 1);
  poll(UINT64_MAX - 1);
  EXPECT_EQ(stats().tcp_retransmits, 1u);  // held for ARP: the MAC's TTL saturated there too
}

TEST_F(VnetTcpRetransmit, LaterSamplesSmoothTheRtoAndItsFloorHolds) {
  uint64_t now = 1000 * kMs;
  for (int i = 0; i < 20; i++) {  // a steady 10 ms RTT
    ASSERT_EQ(write(sock_, bytes("x"), now), 1);
    take_seg();
    now += 10 * kMs;
    ack(uint32_t(i + 1), now);
  }
  const auto& c = net_.tcp[sock_];
  EXPECT_LT(c.srtt_ns, 20 * kMs);
  EXPECT_EQ(c.rto_ns, VNET_TCP_RTO_MIN_NS);
}

TEST_F(VnetTcpRetransmit, TimeoutsResendTheFirstSegmentWithExponentialBackoff) {
  ASSERT_EQ(write(sock_, Frame(2500, 'r'), 1000 * kMs), 2500);
  EXPECT_EQ(take_segs().size(), 3u);
  uint64_t now = 1000 * kMs, gap = 300 * kMs;
  for (int i = 0; i < 4; i++) {
    uint64_t deadline = poll(now);
    ASSERT_EQ(deadline, now + gap) << "timeout " << i;
    EXPECT_TRUE(sent_.empty());
    now = deadline;
    poll(now);
    Seg again = take_seg();  // one segment only: the rest follow the ACKs
    EXPECT_EQ(again.seq, snd_);
    EXPECT_EQ(again.data.size(), 1000u);
    gap *= 2;
  }
  EXPECT_EQ(stats().tcp_retransmits, 4u);
  ack(1000, now + 1);  // go-back-N: what follows the first goes again after its ACK
  auto rest = take_segs();
  ASSERT_EQ(rest.size(), 2u);
  EXPECT_EQ(rest[0].seq, snd_ + 1000);
  EXPECT_EQ(rest[1].seq + rest[1].data.size(), snd_ + 2500);
}

// A first sample of 0 (a handshake within one tick of the caller's clock) is still the first:
// the next one is smoothed into it (RFC 6298 2.3), not taken as the first again (2.2).
TEST_F(VnetTcp, ASecondSampleAfterAZeroFirstIsSmoothed) {
  int sock = connect_peer();  // SYN-ACK and ACK at 0: R = 0
  ASSERT_GE(sock, 0);
  ASSERT_EQ(write(sock, bytes("x"), kSecond), 1);
  take_seg();
  seg_in(kPeerIsn + 1, our_isn_ + 2, kAck, {}, 8192, kSecond + 100 * kMs);
  const auto& c = net_.tcp[sock];
  EXPECT_EQ(c.rttvar_ns, 25 * kMs);  // (3 * 0 + |0 - 100|) / 4
  EXPECT_EQ(c.srtt_ns, 12500000u);   // (7 * 0 + 100) / 8
  EXPECT_EQ(c.rto_ns, VNET_TCP_RTO_MIN_NS);
}

TEST_F(VnetTcpRetransmit, KarnsRuleTakesNoSampleFromARetransmittedSegment) {
  ASSERT_EQ(write(sock_, bytes("k"), 1000 * kMs), 1);
  take_seg();
  poll(1300 * kMs);
  take_seg();
  ack(1, 1310 * kMs);  // 10 ms after the retransmission, 310 ms after the first
  const auto& c = net_.tcp[sock_];
  EXPECT_EQ(c.srtt_ns, 100 * kMs);  // unchanged
  EXPECT_EQ(c.rto_ns, 600 * kMs);   // still backed off
}

TEST_F(VnetTcpRetransmit, GivesUpAfterMaxRetriesWithARst) {
  ASSERT_EQ(write(sock_, bytes("lost"), 0), 4);
  take_seg();
  uint64_t now = 0;
  for (int i = 0; i < VNET_TCP_MAX_RETRIES; i++) {
    now = poll(now);
    peer_asks_for_us(kPeerMac, kPeerIp, now);  // its ARP entry stays fresh over the minutes
    poll(now);
    EXPECT_EQ(take_seg().data, bytes("lost"));
  }
  now = poll(now);
  peer_asks_for_us(kPeerMac, kPeerIp, now);
  poll(now);
  EXPECT_TRUE(take_seg().has(kRst));
  EXPECT_EQ(vnet_tcp_events(&net_, sock_), VNET_TCP_READABLE | VNET_TCP_ERROR);
  EXPECT_EQ(write(sock_, bytes("x")), VNET_ERR_TIMED_OUT);
  EXPECT_EQ(poll(now), UINT64_MAX);
}

TEST_F(VnetTcpRetransmit, ThreeDuplicateAcksTriggerAFastRetransmit) {
  ASSERT_EQ(write(sock_, Frame(3000, 'f'), 1000 * kMs), 3000);
  EXPECT_EQ(take_segs().size(), 3u);
  ack(1000, 1010 * kMs);  // the first arrived; the second was lost
  ack(1000, 1011 * kMs);
  ack(1000, 1012 * kMs);
  EXPECT_TRUE(sent_.empty());
  ack(1000, 1013 * kMs);
  Seg again = take_seg();
  EXPECT_EQ(again.seq, snd_ + 1000);
  EXPECT_EQ(stats().tcp_fast_retransmits, 1u);
  ack(3000, 1020 * kMs);
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(poll(1020 * kMs), UINT64_MAX);
}

TEST_F(VnetTcpRetransmit, AWindowUpdateIsNotADuplicateAck) {
  ASSERT_EQ(write(sock_, Frame(3000, 'f'), 1000 * kMs), 3000);
  take_segs();
  for (uint16_t w = 8000; w < 8004; w++) ack(1000, 1010 * kMs, w);
  EXPECT_TRUE(sent_.empty());
}

// The answers to zero-window probes are no duplicate ACKs: the probe's byte is not in flight
// (snd_nxt stays before it). Counted, they left the next real duplicate ACK the third.
TEST_F(VnetTcpRetransmit, AnswersToWindowProbesAreNotDuplicateAcks) {
  ack(0, 1000 * kMs, 0);
  ASSERT_EQ(write(sock_, Frame(3000, 'f'), 1000 * kMs), 3000);
  EXPECT_TRUE(sent_.empty());
  uint64_t now = 1000 * kMs;
  for (int i = 0; i < 2; i++) {
    now = poll(now);
    poll(now);
    EXPECT_EQ(take_seg().data.size(), 1u);
    ack(0, now, 0);  // still shut
  }
  ack(0, now, 8192);  // open, the probe's byte not kept
  EXPECT_EQ(take_segs().size(), 3u);
  ack(0, now + 10 * kMs);  // the first was lost, the second arrived: one duplicate ACK
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(stats().tcp_fast_retransmits, 0u);
}

TEST_F(VnetTcpRetransmit, LostSynAckOfAnActiveOpenIsResent) {
  int sock = vnet_tcp_connect(&net_, kPeerIp, 7777, 6000, 0);
  Seg syn = take_seg();
  EXPECT_EQ(poll(0), VNET_TCP_RTO_INIT_NS);
  poll(VNET_TCP_RTO_INIT_NS);
  Seg again = take_seg();
  EXPECT_EQ(again.flags, kSyn);
  EXPECT_EQ(again.seq, syn.seq);
  EXPECT_EQ(vnet_tcp_state(&net_, sock), VNET_TCP_SYN_SENT);
}

}  // namespace
}  // namespace vmft::net_test
