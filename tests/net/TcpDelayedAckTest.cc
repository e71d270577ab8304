// Delayed ACKs (vnet_config.delay_acks): an in-order data segment is acknowledged by the next
// segment the connection sends or by the next vnet_poll; anything else at once.
#include "TcpTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetDelayedAck : public VnetTcpEstablished {
 protected:
  VnetDelayedAck() { config_.delay_acks = 1; }
};

TEST_F(VnetDelayedAck, TheReplyCarriesTheAckOfItsRequest) {
  seg_in(rcv_, snd_, kAck | kPsh, bytes("INCR a\r\n"));
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(vnet_next_deadline(&net_), 0u);  // poll at once: an ACK is owed
  ASSERT_EQ(read_all(sock_), bytes("INCR a\r\n"));
  ASSERT_EQ(write(sock_, bytes(":1\r\n")), 4);
  const Seg reply = take_seg();
  EXPECT_EQ(reply.data, bytes(":1\r\n"));
  EXPECT_EQ(reply.ack, rcv_ + 8);
  EXPECT_EQ(vnet_next_deadline(&net_), 200 * kMs);  // only the reply's retransmission timer
  poll(0);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetDelayedAck, PollSendsTheOwedAck) {
  seg_in(rcv_, snd_, kAck | kPsh, bytes("hello"));
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(poll(0), UINT64_MAX);
  const Seg ack = take_seg();
  EXPECT_TRUE(ack.has(kAck));
  EXPECT_TRUE(ack.data.empty());
  EXPECT_EQ(ack.ack, rcv_ + 5);
}

TEST_F(VnetDelayedAck, EverySecondSegmentIsAcknowledgedAtOnce) {
  seg_in(rcv_, snd_, kAck, Frame(1000, 'a'));
  EXPECT_TRUE(sent_.empty());
  seg_in(rcv_ + 1000, snd_, kAck, Frame(1000, 'b'));
  EXPECT_EQ(take_seg().ack, rcv_ + 2000);
  EXPECT_EQ(vnet_next_deadline(&net_), UINT64_MAX);
}

TEST_F(VnetDelayedAck, OutOfOrderDataIsAcknowledgedAtOnce) {
  seg_in(rcv_ + 10, snd_, kAck, bytes("later"));
  EXPECT_EQ(take_seg().ack, rcv_);  // the duplicate ACK fast retransmit counts on
  seg_in(rcv_, snd_, kAck, bytes("0123456789"));
  EXPECT_EQ(take_seg().ack, rcv_ + 15);  // the gap filled: at once too
}

TEST_F(VnetDelayedAck, AFinIsAcknowledgedAtOnce) {
  seg_in(rcv_, snd_, kAck | kFin, bytes("bye"));
  EXPECT_EQ(take_seg().ack, rcv_ + 4);
}

TEST_F(VnetDelayedAck, AConnectionResetWhileAnAckIsOwedSendsNothingMore) {
  seg_in(rcv_, snd_, kAck, bytes("x"));
  seg_in(rcv_ + 1, 0, kRst);
  EXPECT_EQ(vnet_next_deadline(&net_), UINT64_MAX);
  poll(0);
  EXPECT_TRUE(sent_.empty());
}

}  // namespace
}  // namespace vmft::net_test
