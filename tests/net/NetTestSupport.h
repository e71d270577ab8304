#pragma once
// The vnet tests' fixture: a stack on 10.0.2.15/24 behind gateway 10.0.2.2 (FrameBuilders.h's
// addresses), a fake link that keeps what it sends, and a UDP handler that keeps what it gets.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "FrameBuilders.h"
#include "FrameCheck.h"
#include "vnet.h"

namespace vmft::net_test {

struct UdpReceived {
  uint32_t src_ip;
  uint16_t src_port, dst_port;
  Frame data;
};

class VnetTest : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_EQ(vnet_init(&net_, &config_, &driver_), VNET_OK); }

  // Reconfigures before anything else happens (called at the start of a test), with the
  // fixture's TCP pool.
  void restart(const vnet_config& config) {
    config_ = with_tcp(config, conns_.data());
    sent_.clear();
    ASSERT_EQ(vnet_init(&net_, &config_, &driver_), VNET_OK);
  }

  void input(const Frame& f, uint64_t now_ns = 0) { vnet_input(&net_, f.data(), f.size(), now_ns); }

  // The one frame sent since the last call; fails the test unless exactly one was.
  Frame take_one() {
    EXPECT_EQ(sent_.size(), 1u);
    Frame f = sent_.empty() ? Frame{} : sent_.front();
    sent_.clear();
    return f;
  }

  // The peer asks for us at now_ns, which teaches the stack its MAC; the reply is discarded.
  void peer_asks_for_us(const Mac& mac = kPeerMac, uint32_t ip = kPeerIp, uint64_t now_ns = 0) {
    input(arp_request_frame(mac, ip, kOurIp), now_ns);
    sent_.clear();
  }

  void bind(uint16_t port) {
    ASSERT_EQ(vnet_udp_bind(&net_, port, &VnetTest::on_udp, this), VNET_OK);
  }

  int send_udp(uint32_t dst, const Frame& data, uint64_t now_ns = 0, uint16_t dport = 7000,
               uint16_t sport = 6000) {
    return vnet_udp_send(&net_, dst, dport, sport, data.data(), data.size(), now_ns);
  }

  const vnet_stats& stats() const { return *vnet_get_stats(&net_); }

  static void on_udp(void* ctx, uint32_t src_ip, uint16_t src_port, uint16_t dst_port,
                     const uint8_t* data, size_t len) {
    auto* self = static_cast<VnetTest*>(ctx);
    self->received_.push_back({src_ip, src_port, dst_port, Frame(data, data + len)});
  }
  static void on_frame(void* ctx, const uint8_t* frame, size_t len) {
    static_cast<VnetTest*>(ctx)->sent_.emplace_back(frame, frame + len);
  }

  // On the heap, so that ASan sees a write past the pool's end.
  std::vector<vnet_tcp_conn> conns_ = std::vector<vnet_tcp_conn>(kTcpConns);
  vnet_config config_ = with_tcp(default_config(), conns_.data());
  vnet_driver driver_{this, &VnetTest::on_frame};
  vnet net_{};
  std::vector<Frame> sent_;
  std::vector<UdpReceived> received_;
};

}  // namespace vmft::net_test
