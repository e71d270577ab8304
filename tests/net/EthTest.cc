// Ethernet: which frames are for us, and which are dropped before any protocol sees them.
#include "NetTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetEth : public VnetTest {};

TEST_F(VnetEth, DropsRuntsShorterThanAHeader) {
  Frame whole = arp_request_frame(kPeerMac, kPeerIp, kOurIp);
  input(Frame(whole.begin(), whole.begin() + 13));
  input({});
  vnet_input(&net_, nullptr, 0, 0);
  EXPECT_EQ(stats().rx_drop_runt, 3u);
  EXPECT_EQ(stats().rx_frames, 3u);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetEth, DropsFramesLongerThanAHeaderPlusTheMtu) {
  restart([] {
    vnet_config c = default_config();
    c.mtu = 576;
    return c;
  }());
  bind(7000);
  input(udp_frame(kPeerIp, kOurIp, 5000, 7000, Frame(576 - 28, 'a')));
  EXPECT_EQ(received_.size(), 1u);
  input(udp_frame(kPeerIp, kOurIp, 5000, 7000, Frame(576 - 28 + 1, 'a')));
  EXPECT_EQ(received_.size(), 1u);
  EXPECT_EQ(stats().rx_drop_oversize, 1u);
}

TEST_F(VnetEth, DropsUnicastForAnotherMac) {
  Frame f = arp_request_frame(kPeerMac, kPeerIp, kOurIp);
  f[5] = 0x99;  // a unicast destination, not ours
  input(f);
  EXPECT_EQ(stats().rx_drop_mac, 1u);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetEth, DropsMulticastDestinationsAndMulticastSources) {
  Frame to_group = arp_request_frame(kPeerMac, kPeerIp, kOurIp);
  to_group[0] = 0x01;  // 01:ff:ff:ff:ff:ff
  input(to_group);
  input(eth(kBroadcastMac, Mac{0x03, 0, 0, 0, 0, 1}, kArpType,
            arp(1, kPeerMac, kPeerIp, kZeroMac, kOurIp)));
  EXPECT_EQ(stats().rx_drop_mac, 2u);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetEth, AcceptsBroadcastAndItsOwnMac) {
  input(arp_request_frame(kPeerMac, kPeerIp, kOurIp));
  input(eth(kOurMac, kPeerMac, kArpType, arp(1, kPeerMac, kPeerIp, kZeroMac, kOurIp)));
  EXPECT_EQ(stats().rx_delivered, 2u);
  EXPECT_EQ(sent_.size(), 2u);
}

TEST_F(VnetEth, DropsUnknownEthertypesVlanTagsIncluded) {
  const Frame payload(46, 0);
  for (uint16_t type : {0x86dd /* IPv6 */, 0x8100 /* 802.1Q */, 0x0805, 0x0000, 0x05dc}) {
    input(eth(kOurMac, kPeerMac, type, payload));
  }
  EXPECT_EQ(stats().rx_drop_ethertype, 5u);
  EXPECT_EQ(rx_accounted(stats()), 5u);
}

}  // namespace
}  // namespace vmft::net_test
