// ARP: answers, learning (RFC 826's merge and nothing more), held packets, retries, expiry,
// eviction and the gratuitous announcement.
#include "NetTestSupport.h"

namespace vmft::net_test {
namespace {

class VnetArp : public VnetTest {
 protected:
  // Asserts f is our ARP request for ip.
  static void expect_request_for(const Frame& f, uint32_t ip) {
    EXPECT_EQ(malformation(f), "");
    EXPECT_EQ(get16(f, 12), kArpType);
    EXPECT_EQ(get16(f, 20), 1);
    EXPECT_EQ(get32(f, 38), ip);
  }
  static Mac peer_mac(int i) { return Mac{0x02, 0, 0, 0, 1, uint8_t(i)}; }
  static uint32_t peer_ip(int i) { return 0x0a000200 + 100 + uint32_t(i); }
};

TEST_F(VnetArp, AnswersARequestForItsAddress) {
  input(arp_request_frame(kPeerMac, kPeerIp, kOurIp));
  Frame reply = take_one();
  EXPECT_EQ(malformation(reply), "");
  EXPECT_EQ(mac_at(reply, 0), kPeerMac);
  EXPECT_EQ(get16(reply, 20), 2);  // reply
  EXPECT_EQ(mac_at(reply, 22), kOurMac);
  EXPECT_EQ(get32(reply, 28), kOurIp);
  EXPECT_EQ(mac_at(reply, 32), kPeerMac);
  EXPECT_EQ(get32(reply, 38), kPeerIp);
  EXPECT_EQ(stats().rx_delivered, 1u);
}

TEST_F(VnetArp, LearnsTheRequesterSoItsAnswerNeedsNoRequest) {
  peer_asks_for_us();
  ASSERT_EQ(send_udp(kPeerIp, bytes("hi")), VNET_OK);
  Frame f = take_one();
  EXPECT_EQ(get16(f, 12), kIpv4Type);
  EXPECT_EQ(mac_at(f, 0), kPeerMac);
  EXPECT_EQ(stats().tx_arp_requests, 0u);
}

TEST_F(VnetArp, IgnoresRequestsForOtherAddressesAndLearnsNothingFromThem) {
  input(arp_request_frame(kPeerMac, kPeerIp, kGatewayIp));
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(stats().rx_drop_arp_not_for_us, 1u);
  ASSERT_EQ(send_udp(kPeerIp, bytes("hi")), VNET_OK);
  expect_request_for(take_one(), kPeerIp);
}

TEST_F(VnetArp, DoesNotLearnFromIpPackets) {
  bind(7000);
  input(udp_frame(kPeerIp, kOurIp, 5000, 7000, bytes("ping")));
  ASSERT_EQ(received_.size(), 1u);
  ASSERT_EQ(send_udp(kPeerIp, bytes("pong")), VNET_OK);
  expect_request_for(take_one(), kPeerIp);
}

TEST_F(VnetArp, AKnownPeersGratuitousArpMovesItToItsNewMac) {
  peer_asks_for_us();
  const Mac moved{0x02, 0, 0, 0, 0, 0x65};
  // A gratuitous ARP: from and for the peer's own address, to everyone.
  input(eth(kBroadcastMac, moved, kArpType, arp(1, moved, kPeerIp, kZeroMac, kPeerIp)));
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(stats().rx_delivered, 2u);
  ASSERT_EQ(send_udp(kPeerIp, bytes("hi")), VNET_OK);
  EXPECT_EQ(mac_at(take_one(), 0), moved);
}

TEST_F(VnetArp, AnUnknownPeersGratuitousArpTeachesNothing) {
  input(eth(kBroadcastMac, kPeerMac, kArpType, arp(1, kPeerMac, kPeerIp, kZeroMac, kPeerIp)));
  EXPECT_EQ(stats().rx_drop_arp_not_for_us, 1u);
  ASSERT_EQ(send_udp(kPeerIp, bytes("hi")), VNET_OK);
  expect_request_for(take_one(), kPeerIp);
}

TEST_F(VnetArp, DropsMalformedPackets) {
  const Frame good = arp(1, kPeerMac, kPeerIp, kZeroMac, kOurIp);
  auto mutated = [&](size_t off, uint8_t value) {
    Frame p = good;
    p[off] = value;
    return eth(kBroadcastMac, kPeerMac, kArpType, p);
  };
  input(eth(kBroadcastMac, kPeerMac, kArpType, Frame(good.begin(), good.begin() + 27)));
  input(mutated(1, 6));     // hardware type 6 (IEEE 802)
  input(mutated(2, 0x86));  // protocol type 0x8600
  input(mutated(4, 8));     // hardware length
  input(mutated(5, 16));    // protocol length
  input(mutated(7, 3));     // op 3 (RARP)
  input(mutated(8, 0x01));  // a multicast sender MAC
  input(eth(kBroadcastMac, kPeerMac, kArpType, arp(1, kZeroMac, kPeerIp, kZeroMac, kOurIp)));
  EXPECT_EQ(stats().rx_drop_arp_malformed, 8u);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetArp, AcceptsTrailingPadding) {
  Frame f = arp_request_frame(kPeerMac, kPeerIp, kOurIp);
  f.resize(60, 0);
  input(f);
  EXPECT_EQ(get16(take_one(), 20), 2);
}

TEST_F(VnetArp, AnswersAProbeWithoutLearningAddressZero) {
  // RFC 5227: a host checking whether our address is taken asks from 0.0.0.0.
  input(eth(kBroadcastMac, kPeerMac, kArpType, arp(1, kPeerMac, 0, kZeroMac, kOurIp)));
  Frame reply = take_one();
  EXPECT_EQ(mac_at(reply, 0), kPeerMac);
  EXPECT_EQ(get32(reply, 38), 0u);
  EXPECT_EQ(send_udp(0, bytes("x")), VNET_ERR_NO_ROUTE);
}

TEST_F(VnetArp, NeitherAnswersNorLearnsAnotherMacClaimingItsAddress) {
  input(eth(kBroadcastMac, kPeerMac, kArpType, arp(1, kPeerMac, kOurIp, kZeroMac, kOurIp)));
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(stats().rx_drop_arp_not_for_us, 1u);
}

TEST_F(VnetArp, DoesNotLearnSendersOffTheSubnet) {
  input(arp_request_frame(kPeerMac, kRemoteIp, kOurIp));
  EXPECT_EQ(get16(take_one(), 20), 2);  // answered all the same
  ASSERT_EQ(send_udp(kRemoteIp, bytes("x")), VNET_OK);
  expect_request_for(take_one(), kGatewayIp);
}

TEST_F(VnetArp, HoldsAPacketUntilItsNextHopAnswers) {
  ASSERT_EQ(send_udp(kPeerIp, bytes("held"), 5 * kSecond), VNET_OK);
  expect_request_for(take_one(), kPeerIp);
  EXPECT_EQ(vnet_next_deadline(&net_), 6 * kSecond);
  input(arp_reply_frame(kPeerMac, kPeerIp), 5 * kSecond + 1000);
  Frame f = take_one();
  EXPECT_EQ(malformation(f), "");
  EXPECT_EQ(mac_at(f, 0), kPeerMac);
  EXPECT_EQ(Frame(f.begin() + kL4Off + 8, f.end()), bytes("held"));
  EXPECT_EQ(vnet_next_deadline(&net_), UINT64_MAX);
}

TEST_F(VnetArp, SendsHeldPacketsInTheOrderTheyCame) {
  ASSERT_EQ(send_udp(kPeerIp, bytes("1")), VNET_OK);
  ASSERT_EQ(send_udp(kGatewayIp, bytes("g")), VNET_OK);
  ASSERT_EQ(send_udp(kPeerIp, bytes("2")), VNET_OK);
  ASSERT_EQ(send_udp(kPeerIp, bytes("3")), VNET_OK);
  EXPECT_EQ(stats().tx_arp_requests, 2u);  // one per next hop, not per packet
  sent_.clear();
  input(arp_reply_frame(kPeerMac, kPeerIp));
  ASSERT_EQ(sent_.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(sent_[i].back(), '1' + i);
  sent_.clear();
  input(arp_reply_frame(kGatewayMac, kGatewayIp));
  EXPECT_EQ(take_one().back(), 'g');
}

TEST_F(VnetArp, RetriesEverySecondThenDropsTheHeldPackets) {
  ASSERT_EQ(send_udp(kPeerIp, bytes("a"), 0), VNET_OK);
  ASSERT_EQ(send_udp(kPeerIp, bytes("b"), 0), VNET_OK);
  expect_request_for(take_one(), kPeerIp);
  EXPECT_EQ(vnet_poll(&net_, kSecond - 1), kSecond);
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(vnet_poll(&net_, kSecond), 2 * kSecond);
  expect_request_for(take_one(), kPeerIp);
  EXPECT_EQ(vnet_poll(&net_, 2 * kSecond + 500), 3 * kSecond + 500);
  expect_request_for(take_one(), kPeerIp);
  EXPECT_EQ(stats().tx_arp_requests, 3u);
  EXPECT_EQ(vnet_poll(&net_, 3 * kSecond + 500), UINT64_MAX);
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(stats().tx_drop_arp_failed, 2u);
  // A late answer finds nothing to send.
  input(arp_reply_frame(kPeerMac, kPeerIp), 4 * kSecond);
  EXPECT_TRUE(sent_.empty());
}

TEST_F(VnetArp, RefusesPacketsPastThePendingQueueButStillAsks) {
  for (int i = 0; i < VNET_ARP_PENDING_MAX; ++i) {
    ASSERT_EQ(send_udp(kPeerIp, bytes("x")), VNET_OK);
  }
  EXPECT_EQ(send_udp(kPeerIp, bytes("x")), VNET_ERR_NO_BUFFER);
  EXPECT_EQ(send_udp(kGatewayIp, bytes("x")), VNET_ERR_NO_BUFFER);
  EXPECT_EQ(stats().tx_drop_pending_full, 2u);
  EXPECT_EQ(stats().tx_arp_requests, 2u);  // the peer once, the gateway once
  sent_.clear();
  input(arp_reply_frame(kGatewayMac, kGatewayIp));
  EXPECT_TRUE(sent_.empty());
  EXPECT_EQ(send_udp(kGatewayIp, bytes("x")), VNET_OK);  // resolved by the refused send's ask
  EXPECT_EQ(mac_at(take_one(), 0), kGatewayMac);
}

TEST_F(VnetArp, ForgetsAnEntryAfterItsTtl) {
  peer_asks_for_us(kPeerMac, kPeerIp, 10 * kSecond);
  const uint64_t expiry = 10 * kSecond + VNET_ARP_TTL_NS;
  ASSERT_EQ(send_udp(kPeerIp, bytes("x"), expiry - 1), VNET_OK);
  EXPECT_EQ(get16(take_one(), 12), kIpv4Type);
  ASSERT_EQ(send_udp(kPeerIp, bytes("x"), expiry), VNET_OK);
  expect_request_for(take_one(), kPeerIp);
}

TEST_F(VnetArp, PollFreesExpiredEntriesWithoutAskingToBeWoken) {
  peer_asks_for_us(kPeerMac, kPeerIp, 0);
  EXPECT_EQ(vnet_next_deadline(&net_), UINT64_MAX);
  EXPECT_EQ(vnet_poll(&net_, VNET_ARP_TTL_NS), UINT64_MAX);
  EXPECT_TRUE(sent_.empty());
  // Freed, not merely stale: a gratuitous ARP from the peer no longer merges.
  input(eth(kBroadcastMac, kPeerMac, kArpType, arp(1, kPeerMac, kPeerIp, kZeroMac, kPeerIp)),
        VNET_ARP_TTL_NS);
  EXPECT_EQ(stats().rx_drop_arp_not_for_us, 1u);
}

TEST_F(VnetArp, HearingFromAPeerAgainRenewsItsEntry) {
  peer_asks_for_us(kPeerMac, kPeerIp, 0);
  peer_asks_for_us(kPeerMac, kPeerIp, 50 * kSecond);
  ASSERT_EQ(send_udp(kPeerIp, bytes("x"), VNET_ARP_TTL_NS + kSecond), VNET_OK);
  EXPECT_EQ(get16(take_one(), 12), kIpv4Type);
}

// now_ns is any monotonic clock the caller likes: ARP's deadlines saturate as TCP's do instead
// of wrapping to a time long past, which would forget a learnt MAC at once and make a retry
// due at once (three requests in a burst, then the held packet dropped).
TEST_F(VnetArp, DeadlinesSaturateOnAClockNearItsEnd) {
  const uint64_t late = UINT64_MAX - kSecond / 2;
  peer_asks_for_us(kPeerMac, kPeerIp, late);
  ASSERT_EQ(send_udp(kPeerIp, bytes("x"), late + 1), VNET_OK);
  EXPECT_EQ(mac_at(take_one(), 0), kPeerMac);  // learnt, not expired at once
  ASSERT_EQ(send_udp(kGatewayIp, bytes("y"), late), VNET_OK);
  expect_request_for(take_one(), kGatewayIp);
  EXPECT_EQ(vnet_next_deadline(&net_), UINT64_MAX - 1);
  EXPECT_EQ(vnet_poll(&net_, late), UINT64_MAX - 1);
  EXPECT_TRUE(sent_.empty());  // the retry is not due yet
  vnet_poll(&net_, UINT64_MAX - 1);
  expect_request_for(take_one(), kGatewayIp);
  EXPECT_EQ(stats().tx_arp_requests, 2u);
  EXPECT_EQ(stats().tx_drop_arp_failed, 0u);
}

// The same exactly at the edge: a retry due at UINT64_MAX would be no deadline at all, and
// the held packet would wait for good.
TEST_F(VnetArp, ARetryEndingExactlyAtTheClocksEndStillFires) {
  const uint64_t late = UINT64_MAX - VNET_ARP_RETRY_NS;
  ASSERT_EQ(send_udp(kPeerIp, bytes("x"), late), VNET_OK);
  expect_request_for(take_one(), kPeerIp);
  EXPECT_EQ(vnet_next_deadline(&net_), UINT64_MAX - 1);
}

TEST_F(VnetArp, WhenFullReusesTheEntryThatExpiresFirst) {
  for (int i = 0; i < VNET_ARP_CACHE_SIZE; ++i) {
    peer_asks_for_us(peer_mac(i), peer_ip(i), uint64_t(i) * kSecond);
  }
  peer_asks_for_us(peer_mac(50), peer_ip(50), 20 * kSecond);
  for (int i : {1, VNET_ARP_CACHE_SIZE - 1, 50}) {
    ASSERT_EQ(send_udp(peer_ip(i), bytes("x"), 21 * kSecond), VNET_OK);
    EXPECT_EQ(mac_at(take_one(), 0), peer_mac(i)) << i;
  }
  ASSERT_EQ(send_udp(peer_ip(0), bytes("x"), 21 * kSecond), VNET_OK);
  expect_request_for(take_one(), peer_ip(0));
}

TEST_F(VnetArp, AnnouncesItselfWithAGratuitousRequest) {
  vnet_announce(&net_);
  Frame f = take_one();
  EXPECT_EQ(malformation(f), "");
  EXPECT_EQ(mac_at(f, 0), kBroadcastMac);
  EXPECT_EQ(get16(f, 20), 1);
  EXPECT_EQ(get32(f, 28), kOurIp);
  EXPECT_EQ(get32(f, 38), kOurIp);
  EXPECT_EQ(vnet_next_deadline(&net_), UINT64_MAX);
}

}  // namespace
}  // namespace vmft::net_test
