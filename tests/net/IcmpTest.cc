// ICMP: echo requests are answered (ping works); everything else is counted and dropped.
#include "NetTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetIcmp : public VnetTest {};

TEST_F(VnetIcmp, EchoReplyMirrorsIdSequenceAndPayload) {
  peer_asks_for_us();
  const Frame data = bytes("abcdefghijklmnopqrstuvwabcdefghi");
  input(echo_frame(kPeerIp, 0x1234, 7, data));
  Frame reply = take_one();
  EXPECT_EQ(malformation(reply), "");
  EXPECT_EQ(mac_at(reply, 0), kPeerMac);
  EXPECT_EQ(get32(reply, kIpOff + 16), kPeerIp);
  EXPECT_EQ(reply[kIpOff + 9], kIcmp);
  EXPECT_EQ(reply[kL4Off], 0);  // echo reply
  EXPECT_EQ(get16(reply, kL4Off + 4), 0x1234);
  EXPECT_EQ(get16(reply, kL4Off + 6), 7);
  EXPECT_EQ(Frame(reply.begin() + kL4Off + 8, reply.end()), data);
  EXPECT_EQ(stats().rx_delivered, 2u);
}

TEST_F(VnetIcmp, AnswersAnOddLengthEchoWithAValidChecksum) {
  peer_asks_for_us();
  input(echo_frame(kPeerIp, 1, 1, bytes("odd")));
  EXPECT_EQ(malformation(take_one()), "");
}

TEST_F(VnetIcmp, AnswersTheLargestEchoTheMtuCarries) {
  peer_asks_for_us();
  input(echo_frame(kPeerIp, 1, 1, Frame(1500 - 28, 0x5a)));
  Frame reply = take_one();
  EXPECT_EQ(malformation(reply), "");
  EXPECT_EQ(reply.size(), 14u + 1500u);
}

TEST_F(VnetIcmp, AnEchoFromOffTheSubnetIsAnsweredThroughTheGateway) {
  peer_asks_for_us(kGatewayMac, kGatewayIp);
  input(echo_frame(kRemoteIp, 9, 9, bytes("far"), kGatewayMac));
  Frame reply = take_one();
  EXPECT_EQ(mac_at(reply, 0), kGatewayMac);
  EXPECT_EQ(get32(reply, kIpOff + 16), kRemoteIp);
}

TEST_F(VnetIcmp, AnEchoFromAnUnknownPeerWaitsForItsMac) {
  input(echo_frame(kPeerIp, 1, 2, bytes("who")));
  Frame request = take_one();
  EXPECT_EQ(get16(request, 12), kArpType);
  EXPECT_EQ(stats().rx_delivered, 1u);
  input(arp_reply_frame(kPeerMac, kPeerIp));
  Frame reply = take_one();
  EXPECT_EQ(malformation(reply), "");
  EXPECT_EQ(get16(reply, kL4Off + 6), 2);
}

TEST_F(VnetIcmp, DoesNotAnswerAnEchoItCannotRoute) {
  vnet_config c = default_config();
  c.gateway = 0;
  restart(c);
  input(echo_frame(kRemoteIp, 1, 1, bytes("x"), kGatewayMac));
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(stats().rx_drop_no_reply, 1u);
  EXPECT_EQ(stats().tx_drop_no_route, 1u);
}

TEST_F(VnetIcmp, DropsBadChecksums) {
  Frame f = echo_frame(kPeerIp, 1, 1, bytes("data"));
  f.back() ^= 0x01;
  input(f);
  EXPECT_EQ(stats().rx_drop_icmp_checksum, 1u);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetIcmp, DropsMessagesShorterThanAHeader) {
  input(ip_frame(kPeerIp, kOurIp, kIcmp, Frame{8, 0, 0xf7, 0xff}));
  EXPECT_EQ(stats().rx_drop_icmp_malformed, 1u);
}

TEST_F(VnetIcmp, IgnoresEveryTypeButEchoRequest) {
  input(ip_frame(kPeerIp, kOurIp, kIcmp, icmp(0, 1, 1, bytes("reply"))));
  input(ip_frame(kPeerIp, kOurIp, kIcmp, icmp(3, 0, 0, Frame(28, 0))));  // unreachable
  Frame odd_code = icmp(8, 1, 1, {});
  odd_code[1] = 1;
  put16(odd_code, 2, 0);
  put16(odd_code, 2, internet_checksum(odd_code));
  input(ip_frame(kPeerIp, kOurIp, kIcmp, odd_code));
  EXPECT_EQ(stats().rx_drop_icmp_type, 3u);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetIcmp, IgnoresEchoesToABroadcast) {
  peer_asks_for_us();
  for (uint32_t dst : {kSubnetBroadcast, kLimitedBroadcast}) {
    input(ip_frame(kPeerIp, dst, kIcmp, echo_request(1, 1, {}), kPeerMac, kBroadcastMac));
  }
  EXPECT_EQ(stats().rx_drop_ip_not_for_us, 2u);
  EXPECT_TRUE(sent_.empty());
}

}  // namespace
}  // namespace vmft::net_test
