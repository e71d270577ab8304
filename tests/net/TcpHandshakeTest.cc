// TCP's opening: the three-way handshake both ways, MSS, listeners and their backlog, RSTs
// for closed ports, and initial sequence numbers.
#include "TcpTestSupport.h"

namespace vmft::net_test {
namespace {

TEST_F(VnetTcp, HandshakeEstablishesAConnectionToAccept) {
  EXPECT_EQ(vnet_tcp_accept(&net_, listener_), VNET_ERR_WOULD_BLOCK);
  int sock = connect_peer();
  ASSERT_GE(sock, 0);
  EXPECT_EQ(state(sock), VNET_TCP_ESTABLISHED);
  EXPECT_EQ(vnet_tcp_events(&net_, sock), VNET_TCP_WRITABLE | VNET_TCP_SENT);
  EXPECT_EQ(vnet_tcp_accept(&net_, listener_), VNET_ERR_WOULD_BLOCK);
}

TEST_F(VnetTcp, SynAckCarriesOurMssFromTheMtuAndTheWholeWindow) {
  seg_in(kPeerIsn, 0, kSyn, {}, 8192, 0, kPeerPort, mss_option(1460));
  Seg synack = take_seg();
  EXPECT_EQ(synack.mss, 1460);
  EXPECT_EQ(synack.window, VNET_TCP_RX_BUF);
  EXPECT_EQ(synack.sport, kPort);
  EXPECT_EQ(synack.dport, kPeerPort);

  vnet_config small = default_config();
  small.mtu = 576;
  restart(small);
  peer_asks_for_us();
  ASSERT_EQ(vnet_tcp_listen(&net_, kPort, 1), 0);
  seg_in(kPeerIsn, 0, kSyn, {}, 8192, 0, kPeerPort, mss_option(1460));
  EXPECT_EQ(take_seg().mss, 576 - 40);
}

TEST_F(VnetTcp, SegmentsNeverExceedThePeersMss) {
  int sock = connect_peer(kPeerPort, 0, 100);
  ASSERT_EQ(write(sock, Frame(250, 'x')), 250);
  auto segs = take_segs();
  ASSERT_EQ(segs.size(), 3u);
  EXPECT_EQ(segs[0].data.size(), 100u);
  EXPECT_EQ(segs[1].data.size(), 100u);
  EXPECT_EQ(segs[2].data.size(), 50u);
  EXPECT_EQ(segs[1].seq, our_isn_ + 101);
}

TEST_F(VnetTcp, WithoutAnMssOptionSendsAtMost536Bytes) {
  seg_in(kPeerIsn, 0, kSyn);
  our_isn_ = take_seg().seq;
  seg_in(kPeerIsn + 1, our_isn_ + 1, kAck);
  int sock = vnet_tcp_accept(&net_, listener_);
  ASSERT_EQ(write(sock, Frame(600, 'x')), 600);
  auto segs = take_segs();
  ASSERT_EQ(segs.size(), 2u);
  EXPECT_EQ(segs[0].data.size(), 536u);
}

TEST_F(VnetTcp, ClosedPortAnswersWithRst) {
  input(tcp_frame(kPeerIp, kPeerPort, 81, 5000, 0, kSyn, 8192));
  Seg rst = take_seg();
  EXPECT_EQ(rst.flags, kRst | kAck);
  EXPECT_EQ(rst.seq, 0u);
  EXPECT_EQ(rst.ack, 5001u);
  input(tcp_frame(kPeerIp, kPeerPort, 81, 5000, 777, kAck, 8192, bytes("abc")));
  rst = take_seg();
  EXPECT_EQ(rst.flags, kRst);
  EXPECT_EQ(rst.seq, 777u);
  input(tcp_frame(kPeerIp, kPeerPort, 81, 5000, 777, kRst | kAck, 8192));
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(stats().rx_drop_tcp_no_port, 3u);
}

TEST_F(VnetTcp, ListenerAnswersAStrayAckWithRst) {
  seg_in(5000, 4242, kAck);
  Seg rst = take_seg();
  EXPECT_EQ(rst.flags, kRst);
  EXPECT_EQ(rst.seq, 4242u);
  EXPECT_EQ(stats().rx_drop_tcp_rejected, 1u);
}

TEST_F(VnetTcp, RetransmittedSynGetsTheSameSynAck) {
  seg_in(kPeerIsn, 0, kSyn, {}, 8192, 0, kPeerPort, mss_option(1460));
  Seg first = take_seg();
  seg_in(kPeerIsn, 0, kSyn, {}, 8192, 10 * kMs, kPeerPort, mss_option(1460));
  Seg again = take_seg();
  EXPECT_TRUE(again.has(kSyn | kAck));
  EXPECT_EQ(again.seq, first.seq);
}

TEST_F(VnetTcp, SynAckIsRetransmittedThenTheHalfOpenBlockFreed) {
  seg_in(kPeerIsn, 0, kSyn);
  take_seg();
  uint64_t now = 0, expected_gap = VNET_TCP_RTO_INIT_NS;
  for (int i = 0; i < VNET_TCP_SYN_RETRIES; i++) {
    uint64_t deadline = poll(now);
    EXPECT_EQ(deadline - now, expected_gap) << "retry " << i;
    now = deadline;
    poll(now);
    EXPECT_TRUE(take_seg().has(kSyn | kAck));
    expected_gap *= 2;
  }
  now = poll(now);
  poll(now);
  EXPECT_TRUE(take_seg().has(kRst));
  EXPECT_EQ(poll(now), UINT64_MAX);
  for (int i = 0; i < int(kTcpConns); i++) EXPECT_EQ(state(i), -1);
}

TEST_F(VnetTcp, SynFloodBeyondTheBacklogLeavesEstablishedConnectionsServing) {
  int sock = connect_peer(41000);
  ASSERT_GE(sock, 0);
  for (uint16_t p = 0; p < 200; p++) seg_in(90000u * p, 0, kSyn, {}, 8192, 0, uint16_t(50000 + p));
  sent_.clear();
  int half_open = 0;
  for (int i = 0; i < int(kTcpConns); i++) half_open += state(i) == VNET_TCP_SYN_RECEIVED;
  EXPECT_EQ(half_open, 4);  // the backlog, no more
  EXPECT_EQ(stats().tcp_syn_evicted, 196u);
  // The established connection still serves, and a real client still gets in.
  seg_in(kPeerIsn + 1, our_isn_ + 1, kAck | kPsh, bytes("hi"), 8192, 0, 41000);
  EXPECT_EQ(read_all(sock), bytes("hi"));
  take_segs();
  int late = connect_peer(42000);
  EXPECT_GE(late, 0);
  EXPECT_EQ(vnet_tcp_accept(&net_, listener_), VNET_ERR_WOULD_BLOCK);
}

TEST_F(VnetTcp, AFullAcceptQueueDropsNewSyns) {
  for (uint16_t p = 0; p < 4; p++) {
    seg_in(kPeerIsn, 0, kSyn, {}, 8192, 0, uint16_t(41000 + p));
    Seg synack = take_seg();
    seg_in(kPeerIsn + 1, synack.seq + 1, kAck, {}, 8192, 0, uint16_t(41000 + p));
  }
  seg_in(kPeerIsn, 0, kSyn, {}, 8192, 0, 45000);
  EXPECT_TRUE(sent_.empty());
  // The oldest is handed out first.
  int first = vnet_tcp_accept(&net_, listener_);
  ASSERT_GE(first, 0);
  EXPECT_EQ(net_.tcp[first].remote_port, 41000);
}

TEST_F(VnetTcp, ListenRejectsBadArgumentsAndDuplicates) {
  EXPECT_EQ(vnet_tcp_listen(&net_, 0, 1), VNET_ERR_INVALID);
  EXPECT_EQ(vnet_tcp_listen(&net_, 81, 0), VNET_ERR_INVALID);
  EXPECT_EQ(vnet_tcp_listen(&net_, kPort, 1), VNET_ERR_IN_USE);
  for (int i = 1; i < VNET_TCP_LISTENERS; i++) EXPECT_GE(vnet_tcp_listen(&net_, 81 + i, 9), 0);
  EXPECT_EQ(vnet_tcp_listen(&net_, 99, 1), VNET_ERR_FULL);
  EXPECT_EQ(vnet_tcp_accept(&net_, 7), VNET_ERR_INVALID);
}

TEST_F(VnetTcp, UnlistenResetsConnectionsNotYetAccepted) {
  seg_in(kPeerIsn, 0, kSyn);
  take_seg();
  ASSERT_EQ(vnet_tcp_unlisten(&net_, listener_, 0), VNET_OK);
  EXPECT_TRUE(take_seg().has(kRst));
  seg_in(kPeerIsn, 0, kSyn);
  EXPECT_TRUE(take_seg().has(kRst | kAck));  // the port is closed now
}

TEST_F(VnetTcp, IsnDependsOnSecretTupleAndTimeAndNothingElse) {
  auto isn = [&](uint8_t secret0, uint16_t sport, uint64_t now) {
    vnet_config c = default_config();
    c.tcp_secret[0] = secret0;
    restart(c);
    peer_asks_for_us();
    EXPECT_EQ(vnet_tcp_listen(&net_, kPort, 1), 0);
    seg_in(kPeerIsn, 0, kSyn, {}, 8192, now, sport);
    return take_seg().seq;
  };
  EXPECT_EQ(isn(1, 40000, 0), isn(1, 40000, 0));  // deterministic: a replay agrees
  EXPECT_NE(isn(1, 40000, 0), isn(2, 40000, 0));
  EXPECT_NE(isn(1, 40000, 0), isn(1, 40001, 0));
  EXPECT_EQ(isn(1, 40000, 4000000) - isn(1, 40000, 0), 1000u);  // RFC 6528's 4 us clock
}

TEST_F(VnetTcp, ActiveOpenConnectsAndSendsWrittenData) {
  int sock = vnet_tcp_connect(&net_, kPeerIp, 7777, 0, 0);
  ASSERT_GE(sock, 0);
  Seg syn = take_seg();
  EXPECT_EQ(syn.flags, kSyn);
  EXPECT_EQ(syn.dport, 7777);
  EXPECT_GE(syn.sport, 49152);
  EXPECT_EQ(write(sock, bytes("early")), 5);
  EXPECT_TRUE(sent_.empty());
  input(tcp_frame(kPeerIp, 7777, syn.sport, 9000, syn.seq + 1, kSyn | kAck, 8192, {},
                  mss_option(1460)));
  auto segs = take_segs();
  ASSERT_EQ(segs.size(), 1u);
  EXPECT_EQ(segs[0].data, bytes("early"));
  EXPECT_EQ(segs[0].ack, 9001u);
  EXPECT_EQ(state(sock), VNET_TCP_ESTABLISHED);
}

// A simultaneous open (RFC 9293 3.5, figure 8) goes through SYN_RECEIVED with the caller
// holding the handle: what it wrote or shut down before then leaves once established.
TEST_F(VnetTcp, SimultaneousOpenKeepsAShutdownFromSynSent) {
  int sock = vnet_tcp_connect(&net_, kPeerIp, 7777, 6000, 0);
  Seg syn = take_seg();
  ASSERT_EQ(vnet_tcp_shutdown(&net_, sock, 0), VNET_OK);
  input(tcp_frame(kPeerIp, 7777, 6000, 9000, 0, kSyn, 8192, {}, mss_option(1460)));
  Seg synack = take_seg();
  EXPECT_TRUE(synack.has(kSyn | kAck));
  EXPECT_EQ(synack.seq, syn.seq);
  EXPECT_EQ(synack.ack, 9001u);
  input(tcp_frame(kPeerIp, 7777, 6000, 9001, syn.seq + 1, kAck, 8192));
  Seg fin = take_seg();
  EXPECT_TRUE(fin.has(kFin | kAck));
  EXPECT_EQ(fin.seq, syn.seq + 1);
  EXPECT_EQ(state(sock), VNET_TCP_FIN_WAIT_1);
}

TEST_F(VnetTcp, SimultaneousOpenTakesWritesAndShutdownInSynReceived) {
  int sock = vnet_tcp_connect(&net_, kPeerIp, 7777, 6000, 0);
  Seg syn = take_seg();
  input(tcp_frame(kPeerIp, 7777, 6000, 9000, 0, kSyn, 8192, {}, mss_option(1460)));
  take_seg();
  ASSERT_EQ(state(sock), VNET_TCP_SYN_RECEIVED);
  EXPECT_EQ(write(sock, bytes("early")), 5);
  EXPECT_EQ(vnet_tcp_shutdown(&net_, sock, 0), VNET_OK);
  EXPECT_TRUE(sent_.empty());
  input(tcp_frame(kPeerIp, 7777, 6000, 9001, syn.seq + 1, kAck, 8192));
  Seg data = take_seg();
  EXPECT_EQ(data.data, bytes("early"));
  EXPECT_TRUE(data.has(kFin | kAck));
  EXPECT_EQ(state(sock), VNET_TCP_FIN_WAIT_1);
}

TEST_F(VnetTcp, ActiveOpenRefusedByRst) {
  int sock = vnet_tcp_connect(&net_, kPeerIp, 7777, 5555, 0);
  Seg syn = take_seg();
  input(tcp_frame(kPeerIp, 7777, 5555, 0, syn.seq + 1, kRst | kAck, 0));
  EXPECT_EQ(vnet_tcp_events(&net_, sock), VNET_TCP_READABLE | VNET_TCP_ERROR);
  Frame buf(10);
  EXPECT_EQ(vnet_tcp_read(&net_, sock, buf.data(), buf.size(), 0), VNET_ERR_RESET);
  EXPECT_EQ(vnet_tcp_close(&net_, sock, 0), VNET_OK);
  EXPECT_EQ(state(sock), -1);
}

}  // namespace
}  // namespace vmft::net_test
