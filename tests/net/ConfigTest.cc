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

TEST_F(VnetInit, RefusesATcpPoolWithoutBlocksOrBeyondTheMost) {
  EXPECT_EQ(init_with([](vnet_config& c) { c.tcp_conn_count = 1; }), VNET_ERR_INVALID);
  vnet_tcp_conn one{};
  vnet_config c = default_config();
  c.tcp_conns = &one;
  EXPECT_EQ(vnet_init(&net_, &c, &driver_), VNET_ERR_INVALID);  // a pool of 0 blocks
  c.tcp_conn_count = VNET_TCP_CONNS_MAX + 1;
  EXPECT_EQ(vnet_init(&net_, &c, &driver_), VNET_ERR_INVALID);
  c.tcp_conn_count = 1;
  EXPECT_EQ(vnet_init(&net_, &c, &driver_), VNET_OK);
}

TEST_F(VnetInit, AStackWithoutAPoolServesUdpButListensOnNoTcpPort) {
  ASSERT_EQ(init_with([](vnet_config&) {}), VNET_OK);
  EXPECT_EQ(vnet_tcp_listen(&net_, 80, 1), VNET_ERR_FULL);
  EXPECT_EQ(vnet_tcp_connect(&net_, kPeerIp, 80, 0, 0), VNET_ERR_FULL);
  bind(7);
  EXPECT_EQ(send_udp(kPeerIp, bytes("x")), VNET_OK);
}

TEST_F(VnetInit, ABacklogIsCappedAtThePool) {
  // A pool of 20: a flood of SYNs on a listener that asked for 1000 fills all 20 blocks.
  std::vector<vnet_tcp_conn> pool(20);
  vnet_config c = default_config();
  c.tcp_conns = pool.data();
  c.tcp_conn_count = pool.size();
  ASSERT_EQ(vnet_init(&net_, &c, &driver_), VNET_OK);
  ASSERT_GE(vnet_tcp_listen(&net_, 80, 1000), 0);
  peer_asks_for_us();
  for (uint16_t p = 0; p < 40; p++) {
    input(tcp_frame(kPeerIp, uint16_t(40000 + p), 80, 1000u * p, 0, kSyn, 8192));
  }
  int half_open = 0;
  for (int i = 0; i < 20; i++) half_open += vnet_tcp_state(&net_, i) == VNET_TCP_SYN_RECEIVED;
  EXPECT_EQ(half_open, 20);
  EXPECT_EQ(stats().tcp_syn_evicted, 20u);
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
