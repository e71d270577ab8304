// TCP's data transfer: both directions, the windows both ways, out-of-order and duplicate
// segments, and segments outside the window.
#include "TcpTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetTcpData : public VnetTcpEstablished {
 protected:
  // Data from the peer at offset off from its first data byte.
  void data_in(uint32_t off, const Frame& data, uint16_t window = 8192, uint64_t now = 0) {
    seg_in(rcv_ + off, snd_, kAck | kPsh, data, window, now);
  }
};

TEST_F(VnetTcpData, ReceivedDataIsAcknowledgedAndReadable) {
  data_in(0, bytes("hello"));
  Seg ack = take_seg();
  EXPECT_EQ(ack.flags, kAck);
  EXPECT_EQ(ack.ack, rcv_ + 5);
  EXPECT_EQ(ack.window, VNET_TCP_RX_BUF - 5);
  EXPECT_EQ(vnet_tcp_events(&net_, sock_) & VNET_TCP_READABLE, VNET_TCP_READABLE);
  EXPECT_EQ(read_all(sock_), bytes("hello"));
  Frame buf(4);
  EXPECT_EQ(vnet_tcp_read(&net_, sock_, buf.data(), buf.size(), 0), VNET_ERR_WOULD_BLOCK);
}

TEST_F(VnetTcpData, WrittenDataIsSentAndFreedWhenAcknowledged) {
  EXPECT_EQ(write(sock_, bytes("reply")), 5);
  Seg s = take_seg();
  EXPECT_EQ(s.seq, snd_);
  EXPECT_EQ(s.data, bytes("reply"));
  EXPECT_TRUE(s.has(kAck | kPsh));
  EXPECT_EQ(vnet_tcp_events(&net_, sock_) & VNET_TCP_SENT, 0u);
  seg_in(rcv_, snd_ + 5, kAck);
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(vnet_tcp_events(&net_, sock_) & VNET_TCP_SENT, VNET_TCP_SENT);
  EXPECT_EQ(poll(0), UINT64_MAX);  // nothing in flight: no timer
}

TEST_F(VnetTcpData, WriteTakesWhatFitsTheSendBuffer) {
  Frame big(VNET_TCP_TX_BUF + 100, 'b');
  EXPECT_EQ(write(sock_, big), VNET_TCP_TX_BUF);
  EXPECT_EQ(write(sock_, bytes("x")), VNET_ERR_WOULD_BLOCK);
  EXPECT_EQ(vnet_tcp_events(&net_, sock_) & VNET_TCP_WRITABLE, 0u);
}

TEST_F(VnetTcpData, SendsNoMoreThanThePeersWindow) {
  seg_in(rcv_, snd_, kAck, {}, 1000);
  ASSERT_EQ(write(sock_, Frame(3000, 'w')), 3000);
  auto segs = take_segs();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].data.size(), 1000u);
  seg_in(rcv_, snd_ + 1000, kAck, {}, 4000);  // acks it all and opens the window
  segs = take_segs();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].seq, snd_ + 1000);
  EXPECT_EQ(segs[1].seq + segs[1].data.size(), snd_ + 3000);
}

TEST_F(VnetTcpData, ZeroWindowIsProbedWithBackoffUntilItOpens) {
  seg_in(rcv_, snd_, kAck, {}, 0);
  ASSERT_EQ(write(sock_, bytes("waiting")), 7);
  EXPECT_TRUE(sent_.empty());
  // The handshake, at one instant, measured an RTT of 0: the RTO is its floor.
  uint64_t now = 0, gap = VNET_TCP_RTO_MIN_NS;
  for (int i = 0; i < 3; i++) {
    uint64_t deadline = poll(now);
    EXPECT_EQ(deadline - now, gap) << "probe " << i;
    now = deadline;
    poll(now);
    Seg probe = take_seg();
    EXPECT_EQ(probe.seq, snd_);
    EXPECT_EQ(probe.data, bytes("w"));
    seg_in(rcv_, snd_, kAck, {}, 0, now);  // still shut
    EXPECT_TRUE(sent_.empty());
    gap *= 2;
  }
  EXPECT_EQ(vnet_tcp_state(&net_, sock_), VNET_TCP_ESTABLISHED);  // never given up
  seg_in(rcv_, snd_, kAck, {}, 100, now);
  Seg rest = take_seg();
  EXPECT_EQ(rest.seq, snd_);
  EXPECT_EQ(rest.data, bytes("waiting"));
}

// Zero-window probes are not retransmissions: however long the window stayed shut, the data
// sent once it opens gets the full VNET_TCP_MAX_RETRIES (RFC 1122 4.2.2.17, 4.2.3.5).
TEST_F(VnetTcpData, ProbesDoNotUseUpTheRetransmissionsOfWhatFollows) {
  seg_in(rcv_, snd_, kAck, {}, 0);
  ASSERT_EQ(write(sock_, bytes("data")), 4);
  uint64_t now = 0;
  for (int i = 0; i < VNET_TCP_MAX_RETRIES; i++) {
    now = poll(now);
    peer_asks_for_us(kPeerMac, kPeerIp, now);
    poll(now);
    EXPECT_EQ(take_seg().data, bytes("d")) << "probe " << i;
    seg_in(rcv_, snd_, kAck, {}, 0, now);  // still shut
  }
  seg_in(rcv_, snd_, kAck, {}, 8192, now);  // open, the probe's byte not kept
  EXPECT_EQ(take_seg().data, bytes("data"));
  now = poll(now);  // that segment is lost: its first timeout resends it
  poll(now);
  Seg again = take_seg();
  EXPECT_FALSE(again.has(kRst));
  EXPECT_EQ(again.data, bytes("data"));
  EXPECT_EQ(state(sock_), VNET_TCP_ESTABLISHED);
}

// An ACK carries no sequence space: sent while a probe's byte is out (snd_nxt before
// snd_max) it is still no retransmission.
TEST_F(VnetTcpData, AnAckIsNotCountedAsARetransmission) {
  seg_in(rcv_, snd_, kAck, {}, 0);
  ASSERT_EQ(write(sock_, bytes("abc")), 3);
  poll(poll(0));
  EXPECT_EQ(take_seg().data, bytes("a"));  // the first probe: sent once
  data_in(0, bytes("hi"), 0);
  Seg ack = take_seg();
  EXPECT_TRUE(ack.data.empty());
  EXPECT_EQ(ack.ack, rcv_ + 2);
  EXPECT_EQ(stats().tcp_retransmits, 0u);
}

TEST_F(VnetTcpData, AProbeByteTheRecipientTookIsNotSentAgain) {
  seg_in(rcv_, snd_, kAck, {}, 0);
  ASSERT_EQ(write(sock_, bytes("abc")), 3);
  poll(poll(0));
  take_seg();
  seg_in(rcv_, snd_ + 1, kAck, {}, 100);  // the peer kept the probe's byte
  Seg rest = take_seg();
  EXPECT_EQ(rest.seq, snd_ + 1);
  EXPECT_EQ(rest.data, bytes("bc"));
}

TEST_F(VnetTcpData, AdvertisedWindowShrinksAsDataWaitsAndReopensAfterRead) {
  Frame chunk(1000, 'c');
  for (uint32_t i = 0; i < 4; i++) data_in(i * 1000, chunk);
  auto acks = take_segs();
  ASSERT_EQ(acks.size(), 4u);
  EXPECT_EQ(acks[3].window, VNET_TCP_RX_BUF - 4000);
  data_in(4000, Frame(200, 'd'));  // more than the 96 bytes left: the excess is dropped
  Seg full = take_seg();
  EXPECT_EQ(full.ack, rcv_ + VNET_TCP_RX_BUF);
  EXPECT_EQ(full.window, 0);
  // Our zero window: a probe at rcv_nxt is answered, its byte dropped.
  data_in(VNET_TCP_RX_BUF, bytes("p"));
  Seg answer = take_seg();
  EXPECT_EQ(answer.ack, rcv_ + VNET_TCP_RX_BUF);
  EXPECT_EQ(answer.window, 0);
  // Reading sends a window update.
  EXPECT_EQ(read_all(sock_).size(), size_t(VNET_TCP_RX_BUF));
  Seg update = take_seg();
  EXPECT_EQ(update.window, VNET_TCP_RX_BUF);
}

TEST_F(VnetTcpData, ASmallReadSendsNoWindowUpdate) {
  for (uint32_t i = 0; i < 4; i++) data_in(i * 1024, Frame(1024, 'f'));
  take_segs();
  Frame buf(10);
  EXPECT_EQ(vnet_tcp_read(&net_, sock_, buf.data(), buf.size(), 0), 10);
  EXPECT_TRUE(sent_.empty());  // a 10-byte window would invite a silly segment
}

TEST_F(VnetTcpData, OutOfOrderSegmentsAreHeldAndMergedWhenTheGapFills) {
  data_in(10, bytes("klmno"));
  Seg dup = take_seg();
  EXPECT_EQ(dup.ack, rcv_);  // a duplicate ACK tells the sender what is missing
  data_in(20, bytes("uvwxy"));
  take_seg();
  EXPECT_EQ(vnet_tcp_read(&net_, sock_, nullptr, 0, 0), VNET_ERR_WOULD_BLOCK);
  data_in(0, bytes("abcdefghij"));
  EXPECT_EQ(take_seg().ack, rcv_ + 15);
  data_in(15, bytes("pqrst"));
  EXPECT_EQ(take_seg().ack, rcv_ + 25);
  EXPECT_EQ(read_all(sock_), bytes("abcdefghijklmnopqrstuvwxy"));
}

TEST_F(VnetTcpData, OverlappingAndDuplicateSegmentsDeliverEachByteOnce) {
  data_in(0, bytes("abcdef"));
  data_in(3, bytes("defghi"));
  data_in(0, bytes("abc"));
  data_in(8, bytes("ij"));
  auto acks = take_segs();
  ASSERT_EQ(acks.size(), 4u);
  EXPECT_EQ(acks[2].ack, rcv_ + 9);  // a pure duplicate is acknowledged again
  EXPECT_EQ(read_all(sock_), bytes("abcdefghij"));
}

TEST_F(VnetTcpData, OutOfOrderRangesAreBounded) {
  for (uint32_t i = 0; i < VNET_TCP_OOO_RANGES + 2; i++) data_in(10 + 10 * i, bytes("x"));
  take_segs();
  EXPECT_EQ(net_.tcp[sock_].ooo_count, VNET_TCP_OOO_RANGES);
  data_in(0, Frame(10, 'a'));
  take_segs();
  EXPECT_EQ(read_all(sock_).size(), 11u);  // up to the first hole
}

TEST_F(VnetTcpData, SegmentsOutsideTheWindowAreDroppedAndAnsweredWithAnAck) {
  data_in(VNET_TCP_RX_BUF + 10, bytes("far"));          // beyond the right edge
  seg_in(rcv_ - 100, snd_, kAck | kPsh, bytes("old"));  // long before rcv_nxt
  auto acks = take_segs();
  ASSERT_EQ(acks.size(), 2u);
  for (const Seg& a : acks) {
    EXPECT_EQ(a.flags, kAck);
    EXPECT_EQ(a.ack, rcv_);
    EXPECT_EQ(a.seq, snd_);
  }
  EXPECT_EQ(stats().rx_drop_tcp_rejected, 2u);
  EXPECT_EQ(vnet_tcp_read(&net_, sock_, nullptr, 0, 0), VNET_ERR_WOULD_BLOCK);
}

TEST_F(VnetTcpData, AnAckForDataNeverSentIsAnsweredNotTaken) {
  ASSERT_EQ(write(sock_, bytes("abc")), 3);
  take_seg();
  seg_in(rcv_, snd_ + 100, kAck);
  Seg answer = take_seg();
  EXPECT_EQ(answer.seq, snd_ + 3);
  EXPECT_EQ(vnet_tcp_events(&net_, sock_) & VNET_TCP_SENT, 0u);  // still unacknowledged
}

TEST_F(VnetTcpData, DataBothWaysInterleaved) {
  data_in(0, bytes("question"));
  take_seg();
  EXPECT_EQ(read_all(sock_), bytes("question"));
  ASSERT_EQ(write(sock_, bytes("answer")), 6);
  Seg s = take_seg();
  EXPECT_EQ(s.ack, rcv_ + 8);
  seg_in(rcv_ + 8, snd_ + 6, kAck | kPsh, bytes("thanks"));
  EXPECT_EQ(take_seg().ack, rcv_ + 14);
  EXPECT_EQ(read_all(sock_), bytes("thanks"));
}

}  // namespace
}  // namespace vmft::net_test
