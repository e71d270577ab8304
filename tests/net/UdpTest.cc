// UDP: bindings, delivery, checksums both ways, and the send path's arguments.
#include "NetTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetUdp : public VnetTest {
 protected:
  void SetUp() override {
    VnetTest::SetUp();
    bind(7000);
  }
};

TEST_F(VnetUdp, DeliversADatagramToItsBoundPort) {
  input(udp_frame(kPeerIp, kOurIp, 5000, 7000, bytes("hello")));
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].src_ip, kPeerIp);
  EXPECT_EQ(received_[0].src_port, 5000);
  EXPECT_EQ(received_[0].dst_port, 7000);
  EXPECT_EQ(received_[0].data, bytes("hello"));
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetUdp, DeliversAnEmptyDatagram) {
  input(udp_frame(kPeerIp, kOurIp, 5000, 7000, {}));
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_TRUE(received_[0].data.empty());
}

TEST_F(VnetUdp, DeliversBroadcastsToTheSubnetAndToEveryone) {
  for (uint32_t dst : {kSubnetBroadcast, kLimitedBroadcast}) {
    input(udp_frame(kPeerIp, dst, 5000, 7000, bytes("all"), kPeerMac, kBroadcastMac));
  }
  EXPECT_EQ(received_.size(), 2u);
}

TEST_F(VnetUdp, AcceptsAZeroChecksumAsNone) {
  input(ip_frame(kPeerIp, kOurIp, kUdp, udp(kPeerIp, kOurIp, 5000, 7000, bytes("x"), false)));
  EXPECT_EQ(received_.size(), 1u);
}

TEST_F(VnetUdp, DropsBadChecksums) {
  Frame dgram = udp(kPeerIp, kOurIp, 5000, 7000, bytes("hello"));
  dgram.back() ^= 0x80;
  input(ip_frame(kPeerIp, kOurIp, kUdp, dgram));
  // The pseudo-header counts: the right checksum for another destination is wrong here.
  input(ip_frame(kPeerIp, kOurIp, kUdp, udp(kPeerIp, kOurIp + 1, 5000, 7000, bytes("hello"))));
  EXPECT_EQ(stats().rx_drop_udp_checksum, 2u);
  EXPECT_TRUE(received_.empty());
}

TEST_F(VnetUdp, DropsDatagramsWhoseLengthIsWrong) {
  input(ip_frame(kPeerIp, kOurIp, kUdp, Frame{0x13, 0x88, 0x1b, 0x58, 0, 7, 0}));  // short
  Frame dgram = udp(kPeerIp, kOurIp, 5000, 7000, bytes("hello"), false);
  Frame too_long = dgram;
  put16(too_long, 4, uint16_t(dgram.size() + 1));
  input(ip_frame(kPeerIp, kOurIp, kUdp, too_long));
  Frame under_header = dgram;
  put16(under_header, 4, 7);
  input(ip_frame(kPeerIp, kOurIp, kUdp, under_header));
  EXPECT_EQ(stats().rx_drop_udp_malformed, 3u);
  EXPECT_TRUE(received_.empty());
}

TEST_F(VnetUdp, ALengthShorterThanThePacketCutsTheData) {
  Frame dgram = udp(kPeerIp, kOurIp, 5000, 7000, bytes("hello"), false);
  put16(dgram, 4, 8 + 2);
  input(ip_frame(kPeerIp, kOurIp, kUdp, dgram));
  ASSERT_EQ(received_.size(), 1u);
  EXPECT_EQ(received_[0].data, bytes("he"));
}

TEST_F(VnetUdp, CountsDatagramsForUnboundPorts) {
  input(udp_frame(kPeerIp, kOurIp, 5000, 7001, bytes("x")));
  input(udp_frame(kPeerIp, kOurIp, 5000, 0, bytes("x")));
  EXPECT_EQ(stats().rx_drop_udp_no_port, 2u);
  EXPECT_TRUE(received_.empty());
}

TEST_F(VnetUdp, BindRefusesPortZeroATakenPortAndAFullTable) {
  EXPECT_EQ(vnet_udp_bind(&net_, 0, &VnetTest::on_udp, this), VNET_ERR_INVALID);
  EXPECT_EQ(vnet_udp_bind(&net_, 7001, nullptr, this), VNET_ERR_INVALID);
  EXPECT_EQ(vnet_udp_bind(&net_, 7000, &VnetTest::on_udp, this), VNET_ERR_IN_USE);
  for (uint16_t port = 7001; port < 7000 + VNET_UDP_BINDINGS; ++port) bind(port);
  EXPECT_EQ(vnet_udp_bind(&net_, 9000, &VnetTest::on_udp, this), VNET_ERR_FULL);
}

TEST_F(VnetUdp, UnbindStopsDeliveryAndFreesTheBinding) {
  ASSERT_EQ(vnet_udp_unbind(&net_, 7000), VNET_OK);
  EXPECT_EQ(vnet_udp_unbind(&net_, 7000), VNET_ERR_NOT_FOUND);
  EXPECT_EQ(vnet_udp_unbind(&net_, 0), VNET_ERR_NOT_FOUND);
  input(udp_frame(kPeerIp, kOurIp, 5000, 7000, bytes("x")));
  EXPECT_TRUE(received_.empty());
  for (uint16_t port = 8000; port < 8000 + VNET_UDP_BINDINGS; ++port) bind(port);
}

TEST_F(VnetUdp, SentDatagramsCarryPortsDataAndAValidChecksum) {
  peer_asks_for_us();
  ASSERT_EQ(send_udp(kPeerIp, bytes("reply!"), 0, 5000, 7000), VNET_OK);
  Frame f = take_one();
  EXPECT_EQ(malformation(f), "");
  EXPECT_EQ(get16(f, kL4Off), 7000);
  EXPECT_EQ(get16(f, kL4Off + 2), 5000);
  EXPECT_EQ(Frame(f.begin() + kL4Off + 8, f.end()), bytes("reply!"));
}

TEST_F(VnetUdp, AChecksumThatComesOutZeroIsSentAsAllOnes) {
  peer_asks_for_us();
  // Find two bytes of data whose datagram sums to a checksum of 0.
  Frame data(2);
  bool found = false;
  for (uint32_t x = 0; x < 0x10000 && !found; ++x) {
    put16(data, 0, uint16_t(x));
    Frame d = udp(kOurIp, kPeerIp, 6000, 7000, data, false);
    found = pseudo_checksum(kOurIp, kPeerIp, kUdp, d) == 0;
  }
  ASSERT_TRUE(found);
  ASSERT_EQ(send_udp(kPeerIp, data), VNET_OK);
  EXPECT_EQ(get16(take_one(), kL4Off + 6), 0xffff);
}

TEST_F(VnetUdp, AHandlerMayReplyFromInsideTheHandler) {
  peer_asks_for_us();
  ASSERT_EQ(vnet_udp_unbind(&net_, 7000), VNET_OK);
  auto echo = [](void* ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
                 const uint8_t* data, size_t len) {
    auto* net = static_cast<vnet*>(ctx);
    ASSERT_EQ(vnet_udp_send(net, src_ip, src_port, dst_port, data, len, 0), VNET_OK);
  };
  ASSERT_EQ(vnet_udp_bind(&net_, 7000, echo, &net_), VNET_OK);
  input(udp_frame(kPeerIp, kOurIp, 5000, 7000, bytes("echo me")));
  Frame f = take_one();
  EXPECT_EQ(malformation(f), "");
  EXPECT_EQ(get16(f, kL4Off + 2), 5000);
  EXPECT_EQ(Frame(f.begin() + kL4Off + 8, f.end()), bytes("echo me"));
}

TEST_F(VnetUdp, SendRefusesPortZeroAndMissingData) {
  EXPECT_EQ(send_udp(kPeerIp, bytes("x"), 0, 0, 6000), VNET_ERR_INVALID);
  EXPECT_EQ(send_udp(kPeerIp, bytes("x"), 0, 7000, 0), VNET_ERR_INVALID);
  EXPECT_EQ(vnet_udp_send(&net_, kPeerIp, 7000, 6000, nullptr, 1, 0), VNET_ERR_INVALID);
  EXPECT_EQ(vnet_udp_send(&net_, kPeerIp, 7000, 6000, nullptr, 0, 0), VNET_OK);
}

TEST_F(VnetUdp, SendRefusesMoreThanTheMtuCarries) {
  EXPECT_EQ(send_udp(kPeerIp, Frame(1473, 0)), VNET_ERR_TOO_BIG);
  EXPECT_EQ(send_udp(kPeerIp, Frame(70000, 0)), VNET_ERR_TOO_BIG);
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(send_udp(kPeerIp, Frame(1472, 0)), VNET_OK);
}

}  // namespace
}  // namespace vmft::net_test
