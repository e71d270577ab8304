// IPv4: header checks on the way in (each drop counted by its reason), routing and the MTU on
// the way out.
#include "NetTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetIpv4 : public VnetTest {
 protected:
  void SetUp() override {
    VnetTest::SetUp();
    bind(7000);
  }
  // A UDP datagram to our port 7000 that the stack would deliver, as a whole frame.
  static Frame good() { return udp_frame(kPeerIp, kOurIp, 5000, 7000, bytes("payload")); }
};

TEST_F(VnetIpv4, DeliversAWellFormedPacket) {
  input(good());
  EXPECT_EQ(received_.size(), 1u);
  EXPECT_EQ(stats().rx_delivered, 1u);
}

TEST_F(VnetIpv4, DropsVersionsOtherThanFour) {
  Frame f = good();
  f[kIpOff] = 0x65;
  fix_ip_checksum(f);
  input(f);
  EXPECT_EQ(stats().rx_drop_ip_version, 1u);
  EXPECT_TRUE(received_.empty());
}

TEST_F(VnetIpv4, DropsHeadersShorterThanTwentyBytesOrLongerThanThePacket) {
  Frame f = good();
  input(Frame(f.begin(), f.begin() + kIpOff + 19));
  f[kIpOff] = 0x44;  // IHL 4
  input(f);
  Frame tiny = good();
  tiny.resize(kIpOff + 24);
  tiny[kIpOff] = 0x4f;  // IHL 15: 60 bytes, more than the frame holds
  input(tiny);
  EXPECT_EQ(stats().rx_drop_ip_header, 3u);
  EXPECT_TRUE(received_.empty());
}

TEST_F(VnetIpv4, DropsATotalLengthShorterThanTheHeaderOrLongerThanTheFrame) {
  Frame f = good();
  put16(f, kIpOff + 2, 19);
  fix_ip_checksum(f);
  input(f);
  put16(f, kIpOff + 2, uint16_t(f.size() - kIpOff + 1));
  fix_ip_checksum(f);
  input(f);
  EXPECT_EQ(stats().rx_drop_ip_length, 2u);
  EXPECT_TRUE(received_.empty());
}

TEST_F(VnetIpv4, DropsABadHeaderChecksum) {
  Frame f = good();
  f[kIpOff + 11] ^= 0x40;
  input(f);
  EXPECT_EQ(stats().rx_drop_ip_checksum, 1u);
  EXPECT_TRUE(received_.empty());
}

TEST_F(VnetIpv4, DropsFragmentsAndCountsThem) {
  const Frame dgram = udp(kPeerIp, kOurIp, 5000, 7000, bytes("payload"));
  for (uint16_t flags : {0x2000 /* MF: the first fragment */, 0x0001 /* the last, offset 8 */,
                         0x2001, 0x4001 /* DF with an offset: still a fragment */}) {
    input(eth(kOurMac, kPeerMac, kIpv4Type, ipv4(kPeerIp, kOurIp, kUdp, dgram, {}, flags)));
  }
  EXPECT_EQ(stats().rx_drop_ip_fragment, 4u);
  EXPECT_TRUE(received_.empty());
  input(eth(kOurMac, kPeerMac, kIpv4Type, ipv4(kPeerIp, kOurIp, kUdp, dgram, {}, 0)));
  EXPECT_EQ(received_.size(), 1u);  // no DF is not a fragment
}

TEST_F(VnetIpv4, DropsPacketsForOtherAddresses) {
  input(udp_frame(kPeerIp, kOurIp + 1, 5000, 7000, bytes("x")));
  input(udp_frame(kPeerIp, 0xe0000001, 5000, 7000, bytes("x")));  // a multicast group
  EXPECT_EQ(stats().rx_drop_ip_not_for_us, 2u);
  EXPECT_TRUE(received_.empty());
}

TEST_F(VnetIpv4, DropsPacketsFromSourcesItWouldNeverAnswer) {
  for (uint32_t src : {0u, 0x7f000001u, 0xe0000001u, kSubnetBroadcast, kLimitedBroadcast, kOurIp}) {
    input(udp_frame(src, kOurIp, 5000, 7000, bytes("x")));
  }
  EXPECT_EQ(stats().rx_drop_ip_source, 6u);
  EXPECT_TRUE(received_.empty());
}

TEST_F(VnetIpv4, DropsProtocolsOtherThanIcmpUdpAndTcp) {
  input(ip_frame(kPeerIp, kOurIp, 47 /* GRE */, Frame(20, 0)));
  input(ip_frame(kPeerIp, kOurIp, 2 /* IGMP */, Frame(8, 0)));
  EXPECT_EQ(stats().rx_drop_ip_protocol, 2u);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetIpv4, SkipsOptionsAndIgnoresTheLinksPadding) {
  const Frame dgram = udp(kPeerIp, kOurIp, 5000, 7000, bytes("hi"));
  Frame f = eth(kOurMac, kPeerMac, kIpv4Type,
                ipv4(kPeerIp, kOurIp, kUdp, dgram, Frame{1, 1, 1, 0} /* NOP NOP NOP EOL */));
  f.resize(60, 0xee);  // padded to Ethernet's minimum
  input(f);
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].data, bytes("hi"));
}

TEST_F(VnetIpv4, SendsNoPacketLargerThanTheMtu) {
  vnet_config c = default_config();
  c.mtu = 576;
  restart(c);
  peer_asks_for_us();
  ASSERT_EQ(vnet_udp_max_payload(&net_), 548u);
  EXPECT_EQ(send_udp(kPeerIp, Frame(549, 1)), VNET_ERR_TOO_BIG);
  EXPECT_EQ(stats().tx_drop_too_big, 1u);
  EXPECT_TRUE(sent_.empty());
  ASSERT_EQ(send_udp(kPeerIp, Frame(548, 1)), VNET_OK);
  Frame f = take_one();
  EXPECT_EQ(malformation(f, 576), "");
  EXPECT_EQ(f.size(), 14u + 576u);
}

TEST_F(VnetIpv4, RoutesOffSubnetTrafficThroughTheGateway) {
  ASSERT_EQ(send_udp(kRemoteIp, bytes("far"), 0), VNET_OK);
  Frame request = take_one();
  EXPECT_EQ(get32(request, 38), kGatewayIp);
  input(arp_reply_frame(kGatewayMac, kGatewayIp));
  Frame f = take_one();
  EXPECT_EQ(malformation(f), "");
  EXPECT_EQ(mac_at(f, 0), kGatewayMac);
  EXPECT_EQ(get32(f, kIpOff + 16), kRemoteIp);
  // One gateway entry serves every remote address.
  ASSERT_EQ(send_udp(0x01010101, bytes("farther"), 0), VNET_OK);
  EXPECT_EQ(mac_at(take_one(), 0), kGatewayMac);
}

TEST_F(VnetIpv4, RefusesOffSubnetTrafficWithoutAGateway) {
  vnet_config c = default_config();
  c.gateway = 0;
  restart(c);
  EXPECT_EQ(send_udp(kRemoteIp, bytes("x")), VNET_ERR_NO_ROUTE);
  EXPECT_EQ(stats().tx_drop_no_route, 1u);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetIpv4, RefusesAddressesNoLinkReaches) {
  for (uint32_t dst : {0u, kOurIp, 0x7f000001u, 0xe0000001u, 0xf0000001u}) {
    EXPECT_EQ(send_udp(dst, bytes("x")), VNET_ERR_NO_ROUTE) << dst;
  }
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetIpv4, SendsBroadcastsToEveryStationWithoutArp) {
  for (uint32_t dst : {kLimitedBroadcast, kSubnetBroadcast}) {
    ASSERT_EQ(send_udp(dst, bytes("all")), VNET_OK);
    Frame f = take_one();
    EXPECT_EQ(malformation(f), "");
    EXPECT_EQ(mac_at(f, 0), kBroadcastMac);
  }
  EXPECT_EQ(stats().tx_arp_requests, 0u);
}

TEST_F(VnetIpv4, APointToPointSubnetHasNoBroadcastAddress) {
  vnet_config c = default_config();
  c.prefix_len = 31;
  c.ip = 0x0a000000;  // 10.0.0.0/31: its peer 10.0.0.1 would be the broadcast of a /30
  c.gateway = 0x0a000001;
  restart(c);
  ASSERT_EQ(send_udp(0x0a000001, bytes("x")), VNET_OK);
  EXPECT_EQ(get16(take_one(), 12), kArpType);  // a peer to resolve, not a broadcast
}

TEST_F(VnetIpv4, NumbersItsPacketsInOrderFromZero) {
  peer_asks_for_us();
  for (uint16_t id = 0; id < 3; ++id) {
    ASSERT_EQ(send_udp(kPeerIp, bytes("x")), VNET_OK);
    EXPECT_EQ(get16(take_one(), kIpOff + 4), id);
  }
}

}  // namespace
}  // namespace vmft::net_test
