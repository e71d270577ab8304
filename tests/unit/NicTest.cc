// The NIC device on its own: its rings in guest RAM, delivery, chunking, and send checks.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <string>
#include <vector>

#include "Fakes.h"
#include "vmft/devices/Nic.h"
#include "vmft/guest/abi.h"

namespace vmft::testing {
namespace {

constexpr uint64_t kBase = 0x80000000;
constexpr uint64_t kRam = 64 * 1024;
constexpr uint64_t kHeader = kBase;
constexpr uint64_t kRxDesc = kBase + 0x100;
constexpr uint64_t kTxDesc = kBase + 0x400;
constexpr uint64_t kRxBuffers = kBase + 0x1000;  // rx buffer i at kRxBuffers + i * 0x400
constexpr uint64_t kTxPayloads = kBase + 0x8000;
constexpr uint32_t kRingSize = 8;

struct NicFixture : ::testing::Test {
  NicFixture() : ram(kRam), nic(devices::GuestRam(ram.data(), kBase, ram.size()), net) {}

  template <class T>
  T get(uint64_t addr) {
    T value;
    std::memcpy(&value, ram.data() + (addr - kBase), sizeof value);
    return value;
  }
  template <class T>
  void put(uint64_t addr, const T& value) {
    std::memcpy(ram.data() + (addr - kBase), &value, sizeof value);
  }
  vmft_nic_rings header() { return get<vmft_nic_rings>(kHeader); }
  void set_count(size_t field, uint32_t value) { put(kHeader + field, value); }

  // Lays out the rings and names them, with no rx buffer posted yet.
  void set_up_rings() {
    put(kHeader, vmft_nic_rings{kRxDesc, kTxDesc, kRingSize, kRingSize, 0, 0, 0, 0});
    nic.write(VMFT_NIC_RINGS, kHeader);
    ASSERT_EQ(nic.read(VMFT_NIC_ERROR), uint64_t{VMFT_NIC_OK});
  }
  // Posts `count` more rx buffers of `size` bytes, then rings the doorbell.
  void post(uint32_t count, uint32_t size = 0x400) {
    uint32_t posted = header().rx_posted;
    for (uint32_t i = 0; i < count; i++, posted++) {
      const uint32_t slot = posted % kRingSize;
      put(kRxDesc + slot * sizeof(vmft_nic_rx_desc),
          vmft_nic_rx_desc{kRxBuffers + slot * 0x400, size, 0, 0, 0, 0, 0});
    }
    set_count(offsetof(vmft_nic_rings, rx_posted), posted);
    nic.write(VMFT_NIC_DOORBELL, 1);
  }
  vmft_nic_rx_desc rx(uint32_t number) {
    return get<vmft_nic_rx_desc>(kRxDesc + (number % kRingSize) * sizeof(vmft_nic_rx_desc));
  }
  std::string rx_bytes(uint32_t number) {
    const vmft_nic_rx_desc d = rx(number);
    return std::string(reinterpret_cast<char*>(ram.data() + (d.buf - kBase)), d.len);
  }
  static devices::NetEvent event(uint32_t kind, uint32_t conn, std::string data = {}) {
    return {kind, conn, 0x7f000001, 5555, std::vector<uint8_t>(data.begin(), data.end())};
  }
  // Queues a send (its payload at kTxPayloads + 0x100 * its number), without the doorbell.
  void queue(uint32_t kind, uint32_t conn, const std::string& data, uint64_t buf = 0) {
    const uint32_t number = header().tx_queued;
    if (buf == 0) buf = kTxPayloads + 0x100 * (number % kRingSize);
    if (buf + data.size() <= kBase + kRam) {
      std::copy(data.begin(), data.end(), ram.begin() + (buf - kBase));
    }
    put(kTxDesc + (number % kRingSize) * sizeof(vmft_nic_tx_desc),
        vmft_nic_tx_desc{buf, static_cast<uint32_t>(data.size()), kind, conn, 0x0a000001, 53,
                         0xff});
    set_count(offsetof(vmft_nic_rings, tx_queued), number + 1);
  }
  uint32_t tx_status(uint32_t number) {
    return get<vmft_nic_tx_desc>(kTxDesc + (number % kRingSize) * sizeof(vmft_nic_tx_desc)).status;
  }
  // One send and the doorbell; its status.
  uint32_t send(uint32_t kind, uint32_t conn, const std::string& data) {
    const uint32_t number = header().tx_queued;
    queue(kind, conn, data);
    nic.write(VMFT_NIC_DOORBELL, 1);
    return tx_status(number);
  }
  void open_conn(uint32_t conn) {
    post(1);
    nic.enqueue(event(VMFT_NIC_KIND_TCP_OPEN, conn));
    nic.deliver();
  }

  std::vector<uint8_t> ram;
  RecordingNet net;
  devices::Nic nic;
};

TEST_F(NicFixture, RefusesRingsOutsideRamMisalignedOrOfABadSize) {
  const auto refused = [&](vmft_nic_rings h, uint64_t at = kHeader) {
    put(kHeader, h);
    nic.write(VMFT_NIC_RINGS, at);
    return nic.read(VMFT_NIC_ERROR) == VMFT_NIC_ERR_RINGS && nic.read(VMFT_NIC_RINGS) == 0;
  };
  const vmft_nic_rings good{kRxDesc, kTxDesc, kRingSize, kRingSize, 0, 0, 0, 0};
  EXPECT_FALSE(refused(good));
  EXPECT_EQ(nic.read(VMFT_NIC_RINGS), kHeader);
  EXPECT_TRUE(refused(good, kHeader + 4));                             // header misaligned
  EXPECT_TRUE(refused(good, kBase + kRam - 8));                        // header past the end of RAM
  EXPECT_TRUE(refused({kRxDesc, kTxDesc, 6, kRingSize, 0, 0, 0, 0}));  // not a power of two
  EXPECT_TRUE(refused({kRxDesc, kTxDesc, kRingSize, 0, 0, 0, 0, 0}));  // empty
  EXPECT_TRUE(refused({kRxDesc, kTxDesc, 8192, kRingSize, 0, 0, 0, 0}));  // above 4096
  EXPECT_TRUE(refused({kRxDesc + 4, kTxDesc, kRingSize, kRingSize, 0, 0, 0, 0}));
  EXPECT_TRUE(refused({kBase + kRam - 64, kTxDesc, kRingSize, kRingSize, 0, 0, 0, 0}));
  EXPECT_FALSE(refused(good));
}

TEST_F(NicFixture, WaitsForAPostedBufferThatTheDoorbellAnnounced) {
  set_up_rings();
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "hi"));
  EXPECT_FALSE(nic.can_deliver());
  // A post the NIC has not been told of (a store to RAM) takes effect at the doorbell only, so
  // that every replica learns of it at the same instruction.
  put(kRxDesc, vmft_nic_rx_desc{kRxBuffers, 64, 0, 0, 0, 0, 0});
  set_count(offsetof(vmft_nic_rings, rx_posted), 1);
  EXPECT_FALSE(nic.can_deliver());
  nic.write(VMFT_NIC_DOORBELL, 1);
  EXPECT_TRUE(nic.can_deliver());
}

TEST_F(NicFixture, DeliversADatagramWithItsSenderAndRaisesTheInterrupt) {
  set_up_rings();
  post(1);
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "hello"));
  nic.deliver();
  EXPECT_TRUE(nic.interrupt_pending());
  EXPECT_EQ(header().rx_filled, 1u);
  EXPECT_EQ(rx(0).kind, uint32_t{VMFT_NIC_KIND_UDP});
  EXPECT_EQ(rx(0).peer_ip, 0x7f000001u);
  EXPECT_EQ(rx(0).peer_port, 5555u);
  EXPECT_EQ(rx(0).buf, kRxBuffers);  // the guest's fields stay as it wrote them
  EXPECT_EQ(rx_bytes(0), "hello");
  nic.write(VMFT_NIC_DOORBELL, 1);
  EXPECT_FALSE(nic.interrupt_pending());
}

TEST_F(NicFixture, FillsEveryPostedBufferAtOneBoundaryAndNoMore) {
  set_up_rings();
  post(3);
  for (const char* text : {"one", "two", "three", "four"}) {
    nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, text));
  }
  nic.deliver();
  EXPECT_EQ(header().rx_filled, 3u);
  EXPECT_EQ(rx_bytes(0), "one");
  EXPECT_EQ(rx_bytes(1), "two");
  EXPECT_EQ(rx_bytes(2), "three");
  EXPECT_FALSE(nic.can_deliver());
  EXPECT_EQ(nic.queued(), 1u);
  post(1);
  nic.deliver();
  EXPECT_EQ(rx_bytes(3), "four");
}

TEST_F(NicFixture, WrapsAroundTheRing) {
  set_up_rings();
  post(kRingSize);
  for (uint32_t i = 0; i < 3 * kRingSize; i++) {
    nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, std::to_string(i)));
    nic.deliver();
    ASSERT_EQ(rx_bytes(i), std::to_string(i));
    post(1);
  }
  EXPECT_EQ(header().rx_filled, 3 * kRingSize);
}

TEST_F(NicFixture, SplitsATcpPayloadAcrossBuffers) {
  set_up_rings();
  open_conn(7);
  post(4, 4);
  nic.enqueue(event(VMFT_NIC_KIND_TCP_DATA, 7, "abcdefghij"));
  nic.deliver();
  ASSERT_EQ(header().rx_filled, 4u);  // the open, then three chunks
  EXPECT_EQ(rx_bytes(1) + rx_bytes(2) + rx_bytes(3), "abcdefghij");
  EXPECT_EQ(rx(3).conn, 7u);
  EXPECT_EQ(net.delivered_count, 2);  // the open, then the whole payload once
}

TEST_F(NicFixture, TruncatesADatagramLargerThanItsBuffer) {
  set_up_rings();
  post(1, 3);
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "abcdef"));
  nic.deliver();
  EXPECT_EQ(rx_bytes(0), "abc");
  EXPECT_EQ(nic.queued(), 0u);
}

TEST_F(NicFixture, AnUnusableBufferComesBackWithKindZeroAndTakesNothing) {
  set_up_rings();
  put(kRxDesc, vmft_nic_rx_desc{kBase + kRam - 8, 64, 0, 0, 0, 0, 0});  // past the end of RAM
  put(kRxDesc + sizeof(vmft_nic_rx_desc), vmft_nic_rx_desc{kRxBuffers, 64, 0, 0, 0, 0, 0});
  set_count(offsetof(vmft_nic_rings, rx_posted), 2);
  nic.write(VMFT_NIC_DOORBELL, 1);
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "kept"));
  nic.deliver();
  EXPECT_EQ(header().rx_filled, 2u);
  EXPECT_EQ(rx(0).kind, 0u);
  EXPECT_EQ(rx(0).len, 0u);
  EXPECT_EQ(rx_bytes(1), "kept");
}

TEST_F(NicFixture, SendsEveryQueuedDescriptorInOrderAtOneDoorbell) {
  set_up_rings();
  open_conn(3);
  queue(VMFT_NIC_KIND_TCP_DATA, 3, "first");
  queue(VMFT_NIC_KIND_UDP, 0, "datagram");
  queue(VMFT_NIC_KIND_TCP_DATA, 9, "nobody");
  queue(VMFT_NIC_KIND_TCP_CLOSE, 3, "");
  EXPECT_TRUE(net.sent.empty());  // nothing leaves before the doorbell
  nic.write(VMFT_NIC_DOORBELL, 1);
  EXPECT_EQ(header().tx_done, 4u);
  EXPECT_EQ(tx_status(0), uint32_t{VMFT_NIC_OK});
  EXPECT_EQ(tx_status(1), uint32_t{VMFT_NIC_OK});
  EXPECT_EQ(tx_status(2), uint32_t{VMFT_NIC_ERR_CONN});
  EXPECT_EQ(tx_status(3), uint32_t{VMFT_NIC_OK});
  ASSERT_EQ(net.sent.size(), 3u);
  EXPECT_EQ(std::string(net.sent[0].data.begin(), net.sent[0].data.end()), "first");
  EXPECT_EQ(net.sent[1].peer_ip, 0x0a000001u);
  EXPECT_EQ(net.sent[1].peer_port, 53u);
  EXPECT_EQ(net.sent[2].kind, uint32_t{VMFT_NIC_KIND_TCP_CLOSE});
  EXPECT_EQ(net.flushes, 1);
  nic.write(VMFT_NIC_DOORBELL, 1);  // nothing queued: nothing sent, no flush
  EXPECT_EQ(net.sent.size(), 3u);
  EXPECT_EQ(net.flushes, 1);
}

TEST_F(NicFixture, RefusesUnknownKindsPayloadsOutsideRamAndOversizedPayloads) {
  set_up_rings();
  EXPECT_EQ(send(42, 0, "x"), uint32_t{VMFT_NIC_ERR_KIND});
  queue(VMFT_NIC_KIND_UDP, 0, std::string(100, 'x'), kBase + kRam - 10);
  nic.write(VMFT_NIC_DOORBELL, 1);
  EXPECT_EQ(tx_status(1), uint32_t{VMFT_NIC_ERR_BUFFER});
  queue(VMFT_NIC_KIND_UDP, 0, "");
  put(kTxDesc + 2 * sizeof(vmft_nic_tx_desc) + offsetof(vmft_nic_tx_desc, len),
      uint32_t{VMFT_NIC_MAX_PAYLOAD + 1});
  nic.write(VMFT_NIC_DOORBELL, 1);
  EXPECT_EQ(tx_status(2), uint32_t{VMFT_NIC_ERR_BUFFER});
  EXPECT_TRUE(net.sent.empty());
}

TEST_F(NicFixture, ACountOutOfRangeTakesAtMostARing) {
  set_up_rings();
  for (uint32_t i = 0; i < kRingSize; i++) queue(VMFT_NIC_KIND_UDP, 0, "x");
  set_count(offsetof(vmft_nic_rings, tx_queued), 1000);
  nic.write(VMFT_NIC_DOORBELL, 1);
  EXPECT_EQ(net.sent.size(), size_t{kRingSize});
  EXPECT_EQ(header().tx_done, kRingSize);
  // rx_posted more than a ring ahead is not taken at all.
  set_count(offsetof(vmft_nic_rings, rx_posted), kRingSize + 1);
  nic.write(VMFT_NIC_DOORBELL, 1);
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "x"));
  EXPECT_FALSE(nic.can_deliver());
}

TEST_F(NicFixture, DropsEventsForAConnectionTheGuestClosed) {
  set_up_rings();
  open_conn(5);
  nic.write(VMFT_NIC_DOORBELL, 1);
  nic.enqueue(event(VMFT_NIC_KIND_TCP_DATA, 5, "late"));
  EXPECT_EQ(send(VMFT_NIC_KIND_TCP_CLOSE, 5, ""), uint32_t{VMFT_NIC_OK});
  post(1);
  nic.deliver();
  EXPECT_FALSE(nic.interrupt_pending());
  EXPECT_EQ(nic.queued(), 0u);
  EXPECT_EQ(send(VMFT_NIC_KIND_TCP_DATA, 5, "x"), uint32_t{VMFT_NIC_ERR_CONN});
}

TEST_F(NicFixture, SavesAndRestoresItsState) {
  set_up_rings();
  open_conn(4);
  post(1);
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "a"));
  nic.enqueue(event(VMFT_NIC_KIND_UDP, 0, "b"));
  nic.deliver();
  const devices::NicState saved = nic.save();
  RecordingNet other_net;
  devices::Nic other(devices::GuestRam(ram.data(), kBase, ram.size()), other_net);
  other.restore(saved);
  EXPECT_EQ(other.save(), saved);
  EXPECT_EQ(other.state_hash(), nic.state_hash());
  devices::NicState outside = saved;
  outside.rings.rx_desc = kBase + kRam;
  EXPECT_THROW(other.restore(outside), std::invalid_argument);
}

// ------------------------------------------------------------------ the frame NIC

constexpr devices::FrameConfig kFrames{0x0a0012c60002, 0xc612000a, 24, 0xc6120001, 1500};

TEST_F(NicFixture, ConfigRegistersReadZeroOnTheSocketNic) {
  for (uint64_t reg : {VMFT_NIC_MAC, VMFT_NIC_IPV4, VMFT_NIC_GATEWAY, VMFT_NIC_MTU}) {
    EXPECT_EQ(nic.read(reg), 0u) << reg;
  }
}

TEST_F(NicFixture, ConfigRegistersHoldTheFrameNicsSettings) {
  net.frame_config = kFrames;
  EXPECT_EQ(nic.read(VMFT_NIC_MAC), 0x0a0012c60002u);
  EXPECT_EQ(nic.read(VMFT_NIC_IPV4), 0xc612000aULL | 24ULL << 32);
  EXPECT_EQ(nic.read(VMFT_NIC_GATEWAY), 0xc6120001u);
  EXPECT_EQ(nic.read(VMFT_NIC_MTU), 1500u);
}

TEST_F(NicFixture, AFrameArrivesWholeOrCutToItsBuffer) {
  net.frame_config = kFrames;
  set_up_rings();
  post(2, 100);
  nic.enqueue(event(VMFT_NIC_KIND_FRAME, 0, std::string(60, 'f')));
  nic.enqueue(event(VMFT_NIC_KIND_FRAME, 0, std::string(150, 'g')));
  nic.deliver();
  EXPECT_EQ(rx(0).kind, uint32_t{VMFT_NIC_KIND_FRAME});
  EXPECT_EQ(rx_bytes(0), std::string(60, 'f'));
  EXPECT_EQ(rx(1).kind, uint32_t{VMFT_NIC_KIND_FRAME});
  EXPECT_EQ(rx_bytes(1), std::string(100, 'g'));  // not continued in the next buffer
  EXPECT_EQ(nic.queued(), 0u);
}

// The link event names no connection, and is not dropped as one that names a closed one.
TEST_F(NicFixture, TheLinkEventReachesTheGuestBetweenFrames) {
  net.frame_config = kFrames;
  set_up_rings();
  post(3, 100);
  nic.enqueue(event(VMFT_NIC_KIND_FRAME, 0, std::string(60, 'f')));
  nic.enqueue(event(VMFT_NIC_KIND_LINK, 0, ""));
  nic.enqueue(event(VMFT_NIC_KIND_FRAME, 0, std::string(60, 'g')));
  nic.deliver();
  EXPECT_EQ(rx(0).kind, uint32_t{VMFT_NIC_KIND_FRAME});
  EXPECT_EQ(rx(1).kind, uint32_t{VMFT_NIC_KIND_LINK});
  EXPECT_EQ(rx(1).len, 0u);
  EXPECT_EQ(rx(2).kind, uint32_t{VMFT_NIC_KIND_FRAME});
  EXPECT_EQ(nic.queued(), 0u);
}

TEST_F(NicFixture, SendsFramesFromAHeaderUpToTheMtu) {
  net.frame_config = kFrames;
  set_up_rings();
  EXPECT_EQ(send(VMFT_NIC_KIND_FRAME, 0, std::string(14, 'h')), uint32_t{VMFT_NIC_OK});
  EXPECT_EQ(send(VMFT_NIC_KIND_FRAME, 0, std::string(13, 'h')), uint32_t{VMFT_NIC_ERR_BUFFER});
  std::string largest(1514, 'x');
  EXPECT_EQ(send(VMFT_NIC_KIND_FRAME, 0, largest), uint32_t{VMFT_NIC_OK});
  EXPECT_EQ(send(VMFT_NIC_KIND_FRAME, 0, largest + "x"), uint32_t{VMFT_NIC_ERR_BUFFER});
  ASSERT_EQ(net.sent.size(), 2u);
  EXPECT_EQ(net.sent[1].kind, uint32_t{VMFT_NIC_KIND_FRAME});
  EXPECT_EQ(std::string(net.sent[1].data.begin(), net.sent[1].data.end()), largest);
  // The socket NIC carries no frames.
  net.frame_config.reset();
  EXPECT_EQ(send(VMFT_NIC_KIND_FRAME, 0, std::string(60, 'h')), uint32_t{VMFT_NIC_ERR_KIND});
}

}  // namespace
}  // namespace vmft::testing
