// vnet_init: which configurations it takes, and a stack it refused stays inert.
#include "NetTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetInit : public VnetTest {
 protected:
  int init_with(void (*change)(vnet_config&)) {
    vnet_config c = default_config();
    change(c);
    return vnet_init(&net_, &c, &driver_);
  }
};

TEST_F(VnetInit, RefusesAMulticastOrZeroMac) {
  EXPECT_EQ(init_with([](vnet_config& c) { c.mac[0] = 0x01; }), VNET_ERR_INVALID);
  EXPECT_EQ(init_with([](vnet_config& c) { std::fill(c.mac, c.mac + 6, 0); }), VNET_ERR_INVALID);
}

TEST_F(VnetInit, RefusesAZeroAddressAndAPrefixOver32) {
  EXPECT_EQ(init_with([](vnet_config& c) { c.ip = 0; }), VNET_ERR_INVALID);
  EXPECT_EQ(init_with([](vnet_config& c) { c.prefix_len = 33; }), VNET_ERR_INVALID);
}

TEST_F(VnetInit, RefusesAGatewayOffTheSubnetOrAtItsOwnAddress) {
  EXPECT_EQ(init_with([](vnet_config& c) { c.gateway = kRemoteIp; }), VNET_ERR_INVALID);
  EXPECT_EQ(init_with([](vnet_config& c) { c.gateway = kOurIp; }), VNET_ERR_INVALID);
  EXPECT_EQ(init_with([](vnet_config& c) { c.gateway = 0; }), VNET_OK);
}

TEST_F(VnetInit, RefusesAnMtuOutsideSixtyEightToFifteenHundred) {
  EXPECT_EQ(init_with([](vnet_config& c) { c.mtu = 67; }), VNET_ERR_INVALID);
  EXPECT_EQ(init_with([](vnet_config& c) { c.mtu = 1501; }), VNET_ERR_INVALID);
  EXPECT_EQ(init_with([](vnet_config& c) { c.mtu = 68; }), VNET_OK);
  EXPECT_EQ(vnet_udp_max_payload(&net_), 40u);
}

TEST_F(VnetInit, AZeroMtuMeansFifteenHundred) {
  ASSERT_EQ(init_with([](vnet_config& c) { c.mtu = 0; }), VNET_OK);
  EXPECT_EQ(vnet_udp_max_payload(&net_), 1472u);
}

TEST_F(VnetInit, RefusesADriverWithoutSendFrame) {
  vnet_config c = default_config();
  vnet_driver no_send{this, nullptr};
  EXPECT_EQ(vnet_init(&net_, &c, &no_send), VNET_ERR_INVALID);
}

TEST_F(VnetInit, SendsNothingUntilAsked) {
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(vnet_next_deadline(&net_), UINT64_MAX);
}

TEST_F(VnetInit, ARefusedStackIgnoresEveryCall) {
  ASSERT_EQ(init_with([](vnet_config& c) { c.ip = 0; }), VNET_ERR_INVALID);
  input(arp_request_frame(kPeerMac, kPeerIp, kOurIp));
  vnet_announce(&net_);
  EXPECT_EQ(send_udp(kPeerIp, bytes("x")), VNET_ERR_INVALID);
  EXPECT_EQ(vnet_poll(&net_, 10 * kSecond), UINT64_MAX);
  EXPECT_TRUE(sent_.empty());
}

}  // namespace
}  // namespace vmft::net_test
