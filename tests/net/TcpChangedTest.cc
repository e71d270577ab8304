// vnet_tcp_next_changed: the connections a segment or a timer changed, each once, in order.
#include "TcpTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetChanged : public VnetTcp {
 protected:
  std::vector<int> changed() {
    std::vector<int> out;
    for (int sock; (sock = vnet_tcp_next_changed(&net_)) >= 0;) out.push_back(sock);
    return out;
  }
};

TEST_F(VnetChanged, TheHandshakesEndAndEachSegmentMarkTheirConnectionOnce) {
  EXPECT_TRUE(changed().empty());
  const int a = connect_peer(41000);
  const int b = connect_peer(41001);
  EXPECT_EQ(changed(), (std::vector<int>{a, b}));  // established: to accept
  seg_in(kPeerIsn + 1, our_isn_ + 1, kAck | kPsh, bytes("to b"), 8192, 0, 41001);
  seg_in(kPeerIsn + 5, our_isn_ + 1, kAck | kPsh, bytes("more"), 8192, 0, 41001);
  EXPECT_EQ(changed(), std::vector<int>{b});  // twice, once in the list
  EXPECT_EQ(read_all(b), bytes("to bmore"));
  EXPECT_TRUE(changed().empty());
}

TEST_F(VnetChanged, ATimerThatRunsMarksItsConnection) {
  const int sock = connect_peer();
  changed();
  ASSERT_EQ(write(sock, bytes("unanswered")), 10);
  sent_.clear();
  EXPECT_TRUE(changed().empty());
  poll(10 * kSecond);  // the retransmission timer
  EXPECT_EQ(changed(), std::vector<int>{sock});
  EXPECT_EQ(stats().tcp_retransmits, 1u);
}

TEST_F(VnetChanged, AResetConnectionComesOutWithItsError) {
  const int sock = connect_peer();
  changed();
  seg_in(kPeerIsn + 1, 0, kRst);
  EXPECT_EQ(changed(), std::vector<int>{sock});
  EXPECT_NE(vnet_tcp_events(&net_, sock) & VNET_TCP_ERROR, 0u);
}

TEST_F(VnetChanged, TheListSurvivesABlockBeingReused) {
  const int a = connect_peer(41000);
  const uint32_t a_isn = our_isn_;
  changed();
  // Closed by the peer, then by us: the block is freed while it is in the list, and taken
  // again by the next connection.
  seg_in(kPeerIsn + 1, a_isn + 1, kAck | kFin, {}, 8192, 0, 41000);
  sent_.clear();
  ASSERT_EQ(vnet_tcp_close(&net_, a, 0), VNET_OK);
  const Seg fin = take_seg();
  ASSERT_TRUE(fin.has(kFin));
  seg_in(kPeerIsn + 2, fin.seq + 1, kAck, {}, 8192, 0, 41000);
  EXPECT_EQ(state(a), -1);
  const int b = connect_peer(41001);
  EXPECT_EQ(b, a);
  EXPECT_EQ(changed(), std::vector<int>{b});
}

}  // namespace
}  // namespace vmft::net_test
