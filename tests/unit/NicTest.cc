// The NIC device on its own: delivery into guest RAM, chunking, and send checks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "Fakes.h"
#include "vmft/devices/Nic.h"
#include "vmft/guest/abi.h"

namespace vmft::testing {
namespace {

constexpr uint64_t kBase = 0x80000000;
constexpr uint64_t kRxBuf = kBase + 0x100;
constexpr uint64_t kTxBuf = kBase + 0x800;

struct NicFixture : ::testing::Test {
  NicFixture() : ram(4096), nic(devices::GuestRam(ram.data(), kBase, ram.size()), net) {}

  void init_rx(uint64_t size) {
    nic.write(VMFT_NIC_RX_BUF_ADDR, kRxBuf);
    nic.write(VMFT_NIC_RX_BUF_SIZE, size);
  }
  std::string rx_bytes() {
    return std::string(reinterpret_cast<char*>(ram.data() + (kRxBuf - kBase)),
                       nic.read(VMFT_NIC_RX_LEN));
  }
  static devices::NetEvent event(uint32_t kind, uint32_t conn, std::string data = {}) {
    return {kind, conn, 0x7f000001, 5555, std::vector<uint8_t>(data.begin(), data.end())};
  }
  uint64_t send(uint32_t kind, uint32_t conn, const std::string& data) {
    std::copy(data.begin(), data.end(), ram.begin() + (kTxBuf - kBase));
    nic.write(VMFT_NIC_TX_KIND, kind);
    nic.write(VMFT_NIC_TX_CONN, conn);
    nic.write(VMFT_NIC_TX_BUF_ADDR, kTxBuf);
    nic.write(VMFT_NIC_TX_LEN, data.size());
    nic.write(VMFT_NIC_TX_SEND, 1);
    return nic.read(VMFT_NIC_TX_STATUS);
  }
  void open_conn(uint32_t conn) {
    nic.enqueue(event(VMFT_NIC_KIND_TCP_OPEN, conn));
    nic.deliver();
    nic.write(VMFT_NIC_RX_ACK, 1);
  }

  std::vector<uint8_t> ram;
  RecordingNet net;
  devices::Nic nic;
};

TEST_F(NicFixture, WaitsForAReceiveBuffer) {
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "hi"));
  EXPECT_FALSE(nic.can_deliver());
  init_rx(64);
  EXPECT_TRUE(nic.can_deliver());
}

TEST_F(NicFixture, DeliversDatagramWithSenderAndRaisesInterrupt) {
  init_rx(64);
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "hello"));
  nic.deliver();
  EXPECT_TRUE(nic.interrupt_pending());
  EXPECT_EQ(nic.read(VMFT_NIC_RX_STATUS), 1u);
  EXPECT_EQ(nic.read(VMFT_NIC_RX_KIND), uint64_t{VMFT_NIC_KIND_UDP});
  EXPECT_EQ(nic.read(VMFT_NIC_RX_PEER_IP), 0x7f000001u);
  EXPECT_EQ(nic.read(VMFT_NIC_RX_PEER_PORT), 5555u);
  EXPECT_EQ(rx_bytes(), "hello");
}

TEST_F(NicFixture, HoldsTheNextEventUntilAck) {
  init_rx(64);
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "one"));
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "two"));
  nic.deliver();
  EXPECT_FALSE(nic.can_deliver());
  nic.write(VMFT_NIC_RX_ACK, 1);
  EXPECT_FALSE(nic.interrupt_pending());
  ASSERT_TRUE(nic.can_deliver());
  nic.deliver();
  EXPECT_EQ(rx_bytes(), "two");
}

TEST_F(NicFixture, SplitsTcpPayloadLargerThanTheBuffer) {
  init_rx(4);
  open_conn(7);
  nic.enqueue(event(VMFT_NIC_KIND_TCP_DATA, 7, "abcdefghij"));
  std::string got;
  while (nic.can_deliver()) {
    nic.deliver();
    EXPECT_EQ(nic.read(VMFT_NIC_RX_CONN), 7u);
    got += rx_bytes();
    nic.write(VMFT_NIC_RX_ACK, 1);
  }
  EXPECT_EQ(got, "abcdefghij");
  EXPECT_EQ(net.delivered_count, 2);  // the open, then the whole payload once
}

TEST_F(NicFixture, TruncatesDatagramLargerThanTheBuffer) {
  init_rx(3);
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "abcdef"));
  nic.deliver();
  EXPECT_EQ(rx_bytes(), "abc");
  nic.write(VMFT_NIC_RX_ACK, 1);
  EXPECT_FALSE(nic.can_deliver());
}

TEST_F(NicFixture, SendsOnAnOpenConnection) {
  init_rx(64);
  open_conn(3);
  EXPECT_EQ(send(VMFT_NIC_KIND_TCP_DATA, 3, "reply"), uint64_t{VMFT_NIC_OK});
  ASSERT_EQ(net.sent.size(), 1u);
  EXPECT_EQ(std::string(net.sent[0].data.begin(), net.sent[0].data.end()), "reply");
}

TEST_F(NicFixture, RefusesSendOnUnknownConnection) {
  EXPECT_EQ(send(VMFT_NIC_KIND_TCP_DATA, 9, "x"), uint64_t{VMFT_NIC_ERR_CONN});
  EXPECT_TRUE(net.sent.empty());
}

TEST_F(NicFixture, RefusesUnknownKindAndBufferOutsideRam) {
  EXPECT_EQ(send(42, 0, "x"), uint64_t{VMFT_NIC_ERR_KIND});
  nic.write(VMFT_NIC_TX_KIND, VMFT_NIC_KIND_UDP);
  nic.write(VMFT_NIC_TX_BUF_ADDR, kBase + 4090);
  nic.write(VMFT_NIC_TX_LEN, 100);
  nic.write(VMFT_NIC_TX_SEND, 1);
  EXPECT_EQ(nic.read(VMFT_NIC_TX_STATUS), uint64_t{VMFT_NIC_ERR_BUFFER});
  EXPECT_TRUE(net.sent.empty());
}

TEST_F(NicFixture, DropsEventsForAConnectionTheGuestClosed) {
  init_rx(64);
  open_conn(5);
  nic.enqueue(event(VMFT_NIC_KIND_TCP_DATA, 5, "late"));
  EXPECT_EQ(send(VMFT_NIC_KIND_TCP_CLOSE, 5, ""), uint64_t{VMFT_NIC_OK});
  nic.deliver();
  EXPECT_FALSE(nic.interrupt_pending());
  EXPECT_EQ(nic.queued(), 0u);
  EXPECT_EQ(send(VMFT_NIC_KIND_TCP_DATA, 5, "x"), uint64_t{VMFT_NIC_ERR_CONN});
}

}  // namespace
}  // namespace vmft::testing
