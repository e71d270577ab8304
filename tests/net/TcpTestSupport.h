#pragma once
// The TCP tests' fixture: VnetTest with a listener on port 80, a peer (10.0.2.100:40000) whose
// ARP the stack already knows, and helpers to send it crafted segments and read the stack's.

#include "NetTestSupport.h"

namespace vmft::net_test {

// A segment the stack sent, parsed.
struct Seg {
  uint16_t sport = 0, dport = 0;
  uint32_t seq = 0, ack = 0;
  uint8_t flags = 0;
  uint16_t window = 0;
  uint16_t mss = 0;  // the MSS option, 0 if none
  Frame data;
  bool has(uint8_t f) const { return (flags & f) == f; }
};

inline Seg parse_seg(const Frame& f) {
  Seg s;
  if (f.size() < kL4Off + 20 || get16(f, 12) != kIpv4Type || f[kIpOff + 9] != kTcp) return s;
  size_t header_len = size_t(f[kL4Off + 12] >> 4) * 4;
  s.sport = get16(f, kL4Off);
  s.dport = get16(f, kL4Off + 2);
  s.seq = get32(f, kL4Off + 4);
  s.ack = get32(f, kL4Off + 8);
  s.flags = f[kL4Off + 13];
  s.window = get16(f, kL4Off + 14);
  if (header_len == 24 && f[kL4Off + 20] == 2) s.mss = get16(f, kL4Off + 22);
  s.data.assign(f.begin() + long(kL4Off + header_len), f.end());
  return s;
}

class VnetTcp : public VnetTest {
 protected:
  static constexpr uint16_t kPort = 80, kPeerPort = 40000;
  static constexpr uint32_t kPeerIsn = 1000;
  static constexpr uint64_t kMs = 1000000;

  void SetUp() override {
    VnetTest::SetUp();
    peer_asks_for_us();
    listener_ = vnet_tcp_listen(&net_, kPort, 4);
    ASSERT_GE(listener_, 0);
  }

  // A segment from the peer (kPeerPort unless sport says otherwise) to kPort.
  void seg_in(uint32_t seq, uint32_t ack, uint8_t flags, const Frame& data = {},
              uint16_t window = 8192, uint64_t now = 0, uint16_t sport = kPeerPort,
              const Frame& options = {}) {
    input(tcp_frame(kPeerIp, sport, kPort, seq, ack, flags, window, data, options), now);
  }

  // Every frame sent since the last call, parsed and checked well formed.
  std::vector<Seg> take_segs() {
    std::vector<Seg> out;
    for (const auto& f : sent_) {
      EXPECT_EQ(malformation(f), "");
      out.push_back(parse_seg(f));
    }
    sent_.clear();
    return out;
  }
  Seg take_seg() {
    auto segs = take_segs();
    EXPECT_EQ(segs.size(), 1u);
    return segs.empty() ? Seg{} : segs.front();
  }

  // The three-way handshake from the peer; returns the accepted handle. our_isn_ is the ISS.
  int connect_peer(uint16_t sport = kPeerPort, uint64_t now = 0, uint16_t mss = 1460,
                   uint16_t window = 8192) {
    seg_in(kPeerIsn, 0, kSyn, {}, window, now, sport, mss_option(mss));
    Seg synack = take_seg();
    EXPECT_TRUE(synack.has(kSyn | kAck));
    EXPECT_EQ(synack.ack, kPeerIsn + 1);
    our_isn_ = synack.seq;
    seg_in(kPeerIsn + 1, our_isn_ + 1, kAck, {}, window, now, sport);
    EXPECT_TRUE(sent_.empty());
    return vnet_tcp_accept(&net_, listener_);
  }

  int state(int sock) const { return vnet_tcp_state(&net_, sock); }
  int write(int sock, const Frame& data, uint64_t now = 0) {
    return vnet_tcp_write(&net_, sock, data.data(), data.size(), now);
  }
  Frame read_all(int sock, uint64_t now = 0) {
    Frame out(VNET_TCP_RX_BUF);
    int n = vnet_tcp_read(&net_, sock, out.data(), out.size(), now);
    out.resize(n > 0 ? size_t(n) : 0);
    return out;
  }
  uint64_t poll(uint64_t now) { return vnet_poll(&net_, now); }

  int listener_ = -1;
  uint32_t our_isn_ = 0;
};

// A connection already established with the peer (connect_peer), nothing in flight.
class VnetTcpEstablished : public VnetTcp {
 protected:
  void SetUp() override {
    VnetTcp::SetUp();
    sock_ = connect_peer();
    ASSERT_GE(sock_, 0);
    rcv_ = kPeerIsn + 1;
    snd_ = our_isn_ + 1;
  }
  int sock_ = -1;
  uint32_t rcv_ = 0, snd_ = 0;  // the peer's first data byte, and ours
};

}  // namespace vmft::net_test
