// TCP's closing: FIN both ways and together, TIME_WAIT and its bound, and RST in every state
// (RFC 5961's exact-match rule, challenge ACKs for SYNs).
#include "TcpInvariants.h"
#include "TcpTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetTcpClose : public VnetTcpEstablished {
 protected:
  void peer(uint32_t seq_off, uint32_t ack_off, uint8_t flags, const Frame& data = {},
            uint64_t now = 0) {
    seg_in(rcv_ + seq_off, snd_ + ack_off, flags, data, 8192, now);
  }
  // Drives the connection into a state (from ESTABLISHED, nothing in flight).
  void go_to(int target) {
    switch (target) {
      case VNET_TCP_FIN_WAIT_1: ASSERT_EQ(vnet_tcp_shutdown(&net_, sock_, 0), VNET_OK); break;
      case VNET_TCP_FIN_WAIT_2:
        go_to(VNET_TCP_FIN_WAIT_1);
        peer(0, 1, kAck);
        break;
      case VNET_TCP_CLOSE_WAIT: peer(0, 0, kAck | kFin); break;
      case VNET_TCP_CLOSING:
        go_to(VNET_TCP_FIN_WAIT_1);
        peer(0, 0, kAck | kFin);  // its FIN crossed ours
        break;
      case VNET_TCP_LAST_ACK:
        go_to(VNET_TCP_CLOSE_WAIT);
        ASSERT_EQ(vnet_tcp_shutdown(&net_, sock_, 0), VNET_OK);
        break;
      case VNET_TCP_TIME_WAIT:
        go_to(VNET_TCP_FIN_WAIT_2);
        peer(0, 1, kAck | kFin);
        break;
      default: break;
    }
    sent_.clear();
    ASSERT_EQ(state(sock_), target);
  }
  // The peer's next sequence number once it has sent FIN.
  uint32_t peer_fin_off() const { return net_.tcp[sock_].fin_received ? 1 : 0; }
  uint32_t our_fin_off() const { return net_.tcp[sock_].fin_queued ? 1 : 0; }
};

TEST_F(VnetTcpClose, PeerCloseGivesEofThenOurCloseEndsInLastAck) {
  peer(0, 0, kAck | kPsh, bytes("bye"));
  peer(3, 0, kAck | kFin);
  auto acks = take_segs();
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[1].ack, rcv_ + 4);  // the FIN counts
  EXPECT_EQ(state(sock_), VNET_TCP_CLOSE_WAIT);
  EXPECT_EQ(read_all(sock_), bytes("bye"));
  EXPECT_EQ(vnet_tcp_events(&net_, sock_) & VNET_TCP_EOF, VNET_TCP_EOF);
  EXPECT_EQ(vnet_tcp_read(&net_, sock_, nullptr, 0, 0), 0);
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
  Seg fin = take_seg();
  EXPECT_TRUE(fin.has(kFin | kAck));
  EXPECT_EQ(state(sock_), VNET_TCP_LAST_ACK);
  peer(4, 1, kAck);
  EXPECT_EQ(state(sock_), -1);  // freed
  EXPECT_EQ(poll(0), UINT64_MAX);
}

TEST_F(VnetTcpClose, OurCloseGoesThroughFinWaitToTimeWaitWhichExpiresAfterTwoMsl) {
  ASSERT_EQ(write(sock_, bytes("last words")), 10);
  take_seg();
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
  Seg fin = take_seg();
  EXPECT_EQ(fin.seq, snd_ + 10);
  EXPECT_TRUE(fin.has(kFin));
  EXPECT_EQ(state(sock_), VNET_TCP_FIN_WAIT_1);
  peer(0, 11, kAck);
  EXPECT_EQ(state(sock_), VNET_TCP_FIN_WAIT_2);
  peer(0, 11, kAck | kFin, {}, 1000);
  EXPECT_EQ(take_seg().ack, rcv_ + 1);
  EXPECT_EQ(state(sock_), VNET_TCP_TIME_WAIT);
  EXPECT_EQ(poll(1000), 1000 + 2 * VNET_TCP_MSL_NS);
  poll(1000 + 2 * VNET_TCP_MSL_NS - 1);
  EXPECT_EQ(state(sock_), VNET_TCP_TIME_WAIT);
  poll(1000 + 2 * VNET_TCP_MSL_NS);
  EXPECT_EQ(state(sock_), -1);
}

TEST_F(VnetTcpClose, ARetransmittedFinInTimeWaitIsAckedAndRestartsTheTimer) {
  go_to(VNET_TCP_TIME_WAIT);
  peer(0, 1, kAck | kFin, {}, kSecond);
  EXPECT_EQ(take_seg().ack, rcv_ + 1);
  EXPECT_EQ(poll(kSecond), kSecond + 2 * VNET_TCP_MSL_NS);
}

// now_ns is any monotonic clock the caller likes: TIME_WAIT's deadline saturates like the
// other timers' instead of wrapping to a time long past.
TEST_F(VnetTcpClose, TimeWaitLastsOnAClockNearItsEnd) {
  const uint64_t late = UINT64_MAX - kSecond;
  go_to(VNET_TCP_FIN_WAIT_2);
  peer(0, 1, kAck | kFin, {}, late);
  sent_.clear();  // its ACK waits for ARP: the entry learnt at 0 has expired
  ASSERT_EQ(state(sock_), VNET_TCP_TIME_WAIT);
  EXPECT_GT(poll(late), late);
  EXPECT_EQ(state(sock_), VNET_TCP_TIME_WAIT);
}

// RFC 1122 4.2.2.13 lets a SYN reopen a 4-tuple in TIME_WAIT only if the new connection's
// ISN is above every sequence number of the old one: sent faster than the ISN clock's 4 us
// ticks, the old incarnation's numbers are ahead of that clock.
TEST_F(VnetTcpClose, AConnectionReopenedFromTimeWaitStartsAboveTheOldNumbers) {
  ASSERT_EQ(write(sock_, Frame(4000, 'o')), 4000);
  take_segs();
  peer(0, 4000, kAck);
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
  take_seg();
  peer(0, 4001, kAck | kFin, {}, kMs);
  take_seg();
  ASSERT_EQ(state(sock_), VNET_TCP_TIME_WAIT);
  seg_in(rcv_ + 100000, 0, kSyn, {}, 8192, 2 * kMs);  // the same 4-tuple, 1 ms later
  Seg synack = take_seg();
  ASSERT_TRUE(synack.has(kSyn | kAck));
  EXPECT_TRUE(seq_lt(snd_ + 4001, synack.seq)) << synack.seq - snd_;
}

TEST_F(VnetTcpClose, SimultaneousCloseGoesThroughClosing) {
  go_to(VNET_TCP_CLOSING);
  peer(1, 1, kAck);
  EXPECT_EQ(state(sock_), VNET_TCP_TIME_WAIT);
}

TEST_F(VnetTcpClose, AFinIsRetransmittedLikeData) {
  ASSERT_EQ(vnet_tcp_shutdown(&net_, sock_, 0), VNET_OK);
  take_seg();
  uint64_t deadline = poll(0);
  poll(deadline);
  Seg again = take_seg();
  EXPECT_TRUE(again.has(kFin));
  EXPECT_EQ(again.seq, snd_);
}

TEST_F(VnetTcpClose, AnOutOfOrderFinWaitsForTheDataBeforeIt) {
  peer(5, 0, kAck | kFin);
  take_segs();
  EXPECT_EQ(state(sock_), VNET_TCP_ESTABLISHED);
  peer(0, 0, kAck, bytes("12345"));
  peer(5, 0, kAck | kFin);
  take_segs();
  EXPECT_EQ(state(sock_), VNET_TCP_CLOSE_WAIT);
  EXPECT_EQ(read_all(sock_), bytes("12345"));
}

// Bytes held out of order past the peer's FIN can never be delivered: the FIN ends the
// stream, and no range may sit at or before rcv_nxt (TcpInvariants.h, which the fuzz target
// checks after every record).
TEST_F(VnetTcpClose, AFinDropsOutOfOrderBytesPastIt) {
  peer(1, 0, kAck, bytes("x"));  // held out of order
  peer(0, 0, kAck | kFin);
  take_segs();
  EXPECT_EQ(state(sock_), VNET_TCP_CLOSE_WAIT);
  EXPECT_EQ(tcp_inconsistency(net_), "");
  EXPECT_EQ(vnet_tcp_read(&net_, sock_, nullptr, 0, 0), 0);  // the end, nothing more
}

TEST_F(VnetTcpClose, CloseWithUnreadDataResets) {
  peer(0, 0, kAck, bytes("unread"));
  take_seg();
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
  EXPECT_TRUE(take_seg().has(kRst));
  EXPECT_EQ(state(sock_), -1);
}

TEST_F(VnetTcpClose, DataAfterCloseResets) {
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
  take_seg();
  peer(0, 1, kAck, bytes("late"));
  EXPECT_TRUE(take_seg().has(kRst));
  EXPECT_EQ(state(sock_), -1);
}

// An orphan (closed by the caller) waits in FIN_WAIT_2 for the peer's FIN no longer than
// VNET_TCP_FIN_WAIT_2_NS, as Linux: a peer that acknowledged our FIN and then crashed or went
// silent would otherwise hold the block for good. No RST goes out: a dead peer cannot hear it,
// and a live one gets one for its next segment, as here.
TEST_F(VnetTcpClose, AnOrphanInFinWait2IsFreedAfterTheFinTimeout) {
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
  take_seg();
  peer(0, 1, kAck, {}, kSecond);
  ASSERT_EQ(state(sock_), VNET_TCP_FIN_WAIT_2);
  const uint64_t deadline = kSecond + VNET_TCP_FIN_WAIT_2_NS;
  EXPECT_EQ(poll(kSecond), deadline);
  EXPECT_EQ(poll(deadline - 1), deadline);
  EXPECT_EQ(state(sock_), VNET_TCP_FIN_WAIT_2);
  EXPECT_EQ(poll(deadline), UINT64_MAX);
  EXPECT_EQ(state(sock_), -1);
  EXPECT_TRUE(sent_.empty());
  peer_asks_for_us(kPeerMac, kPeerIp, deadline);
  peer(0, 1, kAck | kFin, {}, deadline);  // its FIN, too late
  Seg rst = take_seg();
  EXPECT_TRUE(rst.has(kRst));
  EXPECT_EQ(rst.seq, snd_ + 1);
}

// Only the FIN is waited for: ACKs (a keepalive, a duplicate) do not put the deadline off, so
// a peer that keeps talking but never closes cannot hold the block either.
TEST_F(VnetTcpClose, AcksDoNotPutOffTheFinWait2Timeout) {
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
  take_seg();
  peer(0, 1, kAck);
  peer(0, 1, kAck, {}, 30 * kSecond);
  peer(uint32_t(-1), 1, kAck, {}, 50 * kSecond);  // a keepalive: answered with an ACK
  EXPECT_EQ(take_seg().ack, rcv_);
  EXPECT_EQ(poll(50 * kSecond), VNET_TCP_FIN_WAIT_2_NS);
}

// A half-closed connection (vnet_tcp_shutdown, the FIN acknowledged) closed later: the wait
// starts at the close.
TEST_F(VnetTcpClose, ClosingInFinWait2StartsTheFinTimeout) {
  go_to(VNET_TCP_FIN_WAIT_2);
  EXPECT_EQ(poll(0), UINT64_MAX);
  const uint64_t closed = 5 * kSecond;
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, closed), VNET_OK);
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(poll(closed), closed + VNET_TCP_FIN_WAIT_2_NS);
  EXPECT_EQ(poll(closed + VNET_TCP_FIN_WAIT_2_NS), UINT64_MAX);
  EXPECT_EQ(state(sock_), -1);
}

// A connection the caller still holds may stay in FIN_WAIT_2 as long as it likes: it is
// half-closed, and reads what the peer still sends.
TEST_F(VnetTcpClose, AHeldConnectionStaysInFinWait2) {
  go_to(VNET_TCP_FIN_WAIT_2);
  const uint64_t later = 10 * VNET_TCP_FIN_WAIT_2_NS;
  EXPECT_EQ(poll(later), UINT64_MAX);
  EXPECT_EQ(state(sock_), VNET_TCP_FIN_WAIT_2);
  peer_asks_for_us(kPeerMac, kPeerIp, later);
  peer(0, 1, kAck | kPsh, bytes("more"), later);
  EXPECT_EQ(take_seg().ack, rcv_ + 4);
  EXPECT_EQ(read_all(sock_), bytes("more"));
  EXPECT_EQ(poll(later), UINT64_MAX);
}

// A server's whole pool closed on peers that acknowledged the FINs and went silent: every
// block is in FIN_WAIT_2 and a new client gets nothing, until the timeout frees them.
TEST_F(VnetTcpClose, APoolDrainedBySilentPeersInFinWait2AcceptsAgainAfterTheTimeout) {
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);  // the fixture's: the first of them
  take_seg();
  peer(0, 1, kAck);
  for (int i = 1; i < int(kTcpConns); i++) {
    const uint16_t port = uint16_t(41000 + i);
    int s = connect_peer(port);
    ASSERT_GE(s, 0) << i;
    ASSERT_EQ(vnet_tcp_close(&net_, s, 0), VNET_OK);
    Seg fin = take_seg();
    ASSERT_TRUE(fin.has(kFin));
    seg_in(kPeerIsn + 1, fin.seq + 1, kAck, {}, 8192, 0, port);
    ASSERT_EQ(state(s), VNET_TCP_FIN_WAIT_2) << i;
  }
  seg_in(kPeerIsn, 0, kSyn, {}, 8192, kSecond, 49000);
  EXPECT_TRUE(sent_.empty());  // no block for it
  EXPECT_EQ(vnet_tcp_accept(&net_, listener_), VNET_ERR_WOULD_BLOCK);
  const uint64_t deadline = poll(kSecond);
  EXPECT_EQ(deadline, VNET_TCP_FIN_WAIT_2_NS);
  EXPECT_EQ(poll(deadline), UINT64_MAX);
  EXPECT_TRUE(sent_.empty());
  for (int i = 0; i < int(kTcpConns); i++) EXPECT_EQ(state(i), -1) << i;
  peer_asks_for_us(kPeerMac, kPeerIp, deadline);
  EXPECT_GE(connect_peer(49000, deadline), 0);  // its SYN again, answered this time
}

// An orphan whose data a peer's shut window never takes: nobody will read our side again, so
// after VNET_TCP_MAX_RETRIES probes (as Linux's tcp_orphan_retries) answered with no opening
// it is reset and freed; closed with data unsent (FIN_WAIT_1) as after the peer's FIN
// (LAST_ACK).
TEST_F(VnetTcpClose, AnOrphanGivesUpProbingAShutWindow) {
  for (int target : {VNET_TCP_ESTABLISHED, VNET_TCP_CLOSE_WAIT}) {
    SCOPED_TRACE(testing::Message() << "state " << target);
    restart(default_config());
    SetUp();
    go_to(target);
    const uint32_t fin = peer_fin_off();
    seg_in(rcv_ + fin, snd_, kAck, {}, 0);  // shut
    ASSERT_EQ(write(sock_, bytes("waiting")), 7);
    ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
    EXPECT_TRUE(sent_.empty());  // the FIN waits behind the data
    uint64_t now = 0;
    for (int i = 0; i < VNET_TCP_MAX_RETRIES; i++) {
      now = poll(now);
      peer_asks_for_us(kPeerMac, kPeerIp, now);
      poll(now);
      EXPECT_EQ(take_seg().data, bytes("w")) << "probe " << i;
      seg_in(rcv_ + fin, snd_, kAck, {}, 0, now);  // still shut
      EXPECT_TRUE(sent_.empty());
    }
    now = poll(now);
    ASSERT_NE(now, UINT64_MAX);
    peer_asks_for_us(kPeerMac, kPeerIp, now);
    EXPECT_EQ(poll(now), UINT64_MAX);
    Seg rst = take_seg();
    EXPECT_EQ(rst.flags, kRst);
    EXPECT_EQ(rst.seq, snd_);  // the peer's rcv_nxt: acceptable at its zero window
    EXPECT_EQ(state(sock_), -1);
  }
}

// A connection the caller holds probes for as long as the window stays shut (RFC 1122
// 4.2.2.17: the peer may keep it shut indefinitely while it answers). Closed after that, it has
// used up its probes: the count runs from when the window shut, so that no orphan is held
// longer than VNET_TCP_MAX_RETRIES probes after the close.
TEST_F(VnetTcpClose, ProbesBeforeTheCloseCountOnceOrphaned) {
  seg_in(rcv_, snd_, kAck, {}, 0);
  ASSERT_EQ(write(sock_, bytes("waiting")), 7);
  uint64_t now = 0;
  for (int i = 0; i < 2 * VNET_TCP_MAX_RETRIES; i++) {
    now = poll(now);
    peer_asks_for_us(kPeerMac, kPeerIp, now);
    poll(now);
    EXPECT_EQ(take_seg().data, bytes("w")) << "probe " << i;
    seg_in(rcv_, snd_, kAck, {}, 0, now);
  }
  EXPECT_EQ(state(sock_), VNET_TCP_ESTABLISHED);
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, now), VNET_OK);
  EXPECT_TRUE(sent_.empty());
  now = poll(now);
  peer_asks_for_us(kPeerMac, kPeerIp, now);
  EXPECT_EQ(poll(now), UINT64_MAX);
  EXPECT_EQ(take_seg().flags, kRst);
  EXPECT_EQ(state(sock_), -1);
}

// An orphan whose peer opens its window before the probes run out sends its data and FIN and
// closes as any other.
TEST_F(VnetTcpClose, AnOrphanWhoseWindowOpensInTimeClosesGracefully) {
  seg_in(rcv_, snd_, kAck, {}, 0);
  ASSERT_EQ(write(sock_, bytes("waiting")), 7);
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
  uint64_t now = 0;
  for (int i = 0; i < VNET_TCP_MAX_RETRIES; i++) {
    now = poll(now);
    peer_asks_for_us(kPeerMac, kPeerIp, now);
    poll(now);
    EXPECT_EQ(take_seg().data, bytes("w")) << "probe " << i;
  }
  seg_in(rcv_, snd_, kAck, {}, 8192, now);  // open at last
  Seg rest = take_seg();
  EXPECT_EQ(rest.data, bytes("waiting"));
  EXPECT_TRUE(rest.has(kFin));
  seg_in(rcv_, snd_ + 8, kAck, {}, 8192, now);
  EXPECT_EQ(state(sock_), VNET_TCP_FIN_WAIT_2);
  EXPECT_EQ(poll(now), now + VNET_TCP_FIN_WAIT_2_NS);
}

TEST_F(VnetTcpClose, AfterShutdownWritesFailAndReadsGoOn) {
  ASSERT_EQ(vnet_tcp_shutdown(&net_, sock_, 0), VNET_OK);
  take_seg();
  EXPECT_EQ(write(sock_, bytes("x")), VNET_ERR_CLOSED);
  peer(0, 1, kAck, bytes("still"));
  take_seg();
  EXPECT_EQ(read_all(sock_), bytes("still"));
}

TEST_F(VnetTcpClose, AbortSendsRstAndFreesTheBlock) {
  ASSERT_EQ(vnet_tcp_abort(&net_, sock_, 0), VNET_OK);
  Seg rst = take_seg();
  EXPECT_EQ(rst.flags, kRst);
  EXPECT_EQ(rst.seq, snd_);
  EXPECT_EQ(state(sock_), -1);
  EXPECT_EQ(vnet_tcp_read(&net_, sock_, nullptr, 0, 0), VNET_ERR_CLOSED);
}

TEST_F(VnetTcpClose, TimeWaitBlocksAreReusedWhenThePoolRunsOut) {
  go_to(VNET_TCP_TIME_WAIT);
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
  ASSERT_EQ(vnet_tcp_listen(&net_, 81, 4), 1);
  // Fill the rest of the pool with established connections, then one more.
  for (int i = 0; i < int(kTcpConns); i++) {
    uint16_t port = uint16_t(41000 + i);
    int l = i < 4 ? listener_ : 1;
    input(tcp_frame(kPeerIp, port, i < 4 ? kPort : 81, kPeerIsn, 0, kSyn, 8192));
    Seg synack = take_seg();
    input(tcp_frame(kPeerIp, port, i < 4 ? kPort : 81, kPeerIsn + 1, synack.seq + 1, kAck, 8192));
    EXPECT_GE(vnet_tcp_accept(&net_, l), 0) << i;
  }
  // The TIME_WAIT block went to the last; now every block is held, and a SYN gets nothing.
  input(tcp_frame(kPeerIp, 49000, kPort, kPeerIsn, 0, kSyn, 8192));
  EXPECT_TRUE(sent_.empty());
}

// RST in every state: the exact sequence number resets (an in-window one gets a challenge ACK,
// below). A handle still held reports the reset; one the caller closed is freed at once.
TEST_F(VnetTcpClose, RstAtRcvNxtResetsEveryState) {
  for (bool closed_by_caller : {false, true}) {
    for (int target :
         {VNET_TCP_ESTABLISHED, VNET_TCP_FIN_WAIT_1, VNET_TCP_FIN_WAIT_2, VNET_TCP_CLOSE_WAIT,
          VNET_TCP_CLOSING, VNET_TCP_LAST_ACK, VNET_TCP_TIME_WAIT}) {
      SCOPED_TRACE(testing::Message() << "state " << target << " closed " << closed_by_caller);
      restart(default_config());
      SetUp();
      go_to(target);
      if (closed_by_caller) {
        ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
      }
      sent_.clear();
      peer(peer_fin_off(), our_fin_off(), kRst);
      EXPECT_TRUE(sent_.empty());
      EXPECT_EQ(poll(0), UINT64_MAX);
      if (closed_by_caller) {
        EXPECT_EQ(state(sock_), -1);
        continue;
      }
      EXPECT_EQ(state(sock_), VNET_TCP_CLOSED);
      // After both FINs (CLOSING, LAST_ACK, TIME_WAIT) a reset is no error: the end was read.
      const bool finishing =
          target == VNET_TCP_CLOSING || target == VNET_TCP_LAST_ACK || target == VNET_TCP_TIME_WAIT;
      int expected = finishing ? 0 : VNET_ERR_RESET;
      EXPECT_EQ(vnet_tcp_read(&net_, sock_, nullptr, 0, 0), expected);
      EXPECT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
      EXPECT_EQ(state(sock_), -1);
    }
  }
}

TEST_F(VnetTcpClose, RstInTheWindowButNotExactGetsAChallengeAck) {
  peer(100, 0, kRst);
  Seg challenge = take_seg();
  EXPECT_EQ(challenge.flags, kAck);
  EXPECT_EQ(challenge.ack, rcv_);
  EXPECT_EQ(state(sock_), VNET_TCP_ESTABLISHED);
  peer(VNET_TCP_RX_BUF + 100, 0, kRst);  // outside: ignored, silently
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(state(sock_), VNET_TCP_ESTABLISHED);
}

TEST_F(VnetTcpClose, SynOnAnEstablishedConnectionGetsAChallengeAck) {
  peer(0, 0, kSyn);
  Seg challenge = take_seg();
  EXPECT_EQ(challenge.flags, kAck);
  EXPECT_EQ(state(sock_), VNET_TCP_ESTABLISHED);
}

TEST_F(VnetTcpClose, RstInSynReceivedFreesTheHalfOpenBlock) {
  seg_in(5000, 0, kSyn, {}, 8192, 0, 41000);
  take_seg();
  seg_in(5001, 0, kRst, {}, 8192, 0, 41000);
  int used = 0;
  for (int i = 0; i < int(kTcpConns); i++) used += state(i) >= 0;
  EXPECT_EQ(used, 1);  // only the established one
}

}  // namespace
}  // namespace vmft::net_test
