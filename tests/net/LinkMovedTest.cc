// vnet_link_moved: at a failover the stack announces its MAC and, on every synchronized TCP
// connection, resends its first unacknowledged segment and sends three duplicate ACKs.
#include "TcpTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetLinkMoved : public VnetTcpEstablished {
 protected:
  // The frames sent since the last call, split into ARP and TCP (parsed).
  std::pair<std::vector<Frame>, std::vector<Seg>> take_arp_and_tcp() {
    std::vector<Frame> arp;
    std::vector<Seg> tcp;
    for (const auto& f : sent_) {
      EXPECT_EQ(malformation(f), "");
      if (get16(f, 12) == kArpType) {
        arp.push_back(f);
      } else {
        tcp.push_back(parse_seg(f));
      }
    }
    sent_.clear();
    return {arp, tcp};
  }
};

TEST_F(VnetLinkMoved, AnnouncesTheMacAndSendsThreeDuplicateAcks) {
  seg_in(rcv_, snd_, kAck | kPsh, bytes("in"));
  sent_.clear();
  vnet_link_moved(&net_, kMs);
  const auto [arp, tcp] = take_arp_and_tcp();
  ASSERT_EQ(arp.size(), 1u);
  EXPECT_EQ(get16(arp[0], kIpOff + 6), 1u);                  // a request ...
  EXPECT_EQ(get32(arp[0], kIpOff + 14), kOurIp);             // ... from our address
  EXPECT_EQ(get32(arp[0], kIpOff + 24), kOurIp);             // ... for it: gratuitous
  ASSERT_EQ(tcp.size(), size_t{VNET_TCP_LINK_DUPACKS});
  for (const Seg& s : tcp) {
    EXPECT_EQ(s.flags, kAck);
    EXPECT_EQ(s.ack, rcv_ + 2);
    EXPECT_EQ(s.seq, snd_);
    EXPECT_TRUE(s.data.empty());
  }
  EXPECT_EQ(stats().tcp_retransmits, 0u);  // nothing of ours was in flight
}

TEST_F(VnetLinkMoved, ResendsEverythingUnacknowledgedAtOnce) {
  ASSERT_EQ(write(sock_, Frame(3000, 'r')), 3000);  // three segments: 1460, 1460, 80
  sent_.clear();
  vnet_link_moved(&net_, 50 * kMs);  // long before the retransmission timer
  const auto [arp, tcp] = take_arp_and_tcp();
  EXPECT_EQ(arp.size(), 1u);
  ASSERT_EQ(tcp.size(), 3u + VNET_TCP_LINK_DUPACKS);
  EXPECT_EQ(tcp[0].seq, snd_);
  EXPECT_EQ(tcp[0].data.size(), 1460u);
  EXPECT_EQ(tcp[1].seq, snd_ + 1460);
  EXPECT_EQ(tcp[2].seq, snd_ + 2920);
  EXPECT_EQ(tcp[2].data.size(), 80u);
  EXPECT_EQ(stats().tcp_retransmits, 3u);
  // The peer acknowledges it all: nothing more is resent when the timer would have run.
  seg_in(rcv_, snd_ + 3000, kAck);
  sent_.clear();
  poll(10 * 1000 * kMs);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetLinkMoved, LeavesConnectionsInTimeWaitAlone) {
  ASSERT_EQ(vnet_tcp_close(&net_, sock_, 0), VNET_OK);
  const Seg fin = take_seg();
  seg_in(rcv_, fin.seq + 1, kAck | kFin);  // both sides closed: TIME_WAIT
  sent_.clear();
  vnet_link_moved(&net_, kMs);
  const auto [arp, tcp] = take_arp_and_tcp();
  EXPECT_EQ(arp.size(), 1u);
  EXPECT_TRUE(tcp.empty());
}

}  // namespace
}  // namespace vmft::net_test
