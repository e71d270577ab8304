#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <set>
#include <span>
#include <vector>

#include "vmft/devices/GuestRam.h"
#include "vmft/devices/MmioDevice.h"
#include "vmft/guest/abi.h"

namespace vmft::devices {

/// One input from the network, as the host saw it. `kind` is a VMFT_NIC_KIND_* value.
struct NetEvent {
  uint32_t kind = 0;
  uint32_t conn = 0;  ///< TCP connection id, 0 for UDP
  uint32_t peer_ip = 0;
  uint32_t peer_port = 0;
  std::vector<uint8_t> data;
  bool operator==(const NetEvent&) const = default;
};

/// The ring layout the guest named (VMFT_NIC_RINGS), as read when it named it.
struct NicRings {
  uint64_t header = 0;  ///< guest address of the struct vmft_nic_rings; 0: no rings
  uint64_t rx_desc = 0, tx_desc = 0;
  uint32_t rx_size = 0, tx_size = 0;
  bool operator==(const NicRings&) const = default;
};

/// Everything that decides the NIC's future, for snapshots: its registers, the connections the
/// guest has been told about, and the host events not yet (or only partly) delivered. The rings
/// themselves are in guest RAM.
struct NicState {
  std::vector<NetEvent> queue;
  uint64_t front_offset = 0;         ///< bytes of queue.front() already delivered
  std::vector<uint32_t> open_conns;  ///< ascending
  NicRings rings;
  /// The counts as the NIC keeps them: rx_posted as read at the last doorbell, the others its
  /// own (it writes them to the ring header for the guest, and never reads them back).
  uint32_t rx_posted = 0, rx_filled = 0, tx_done = 0;
  bool interrupt = false;  ///< filled since the last doorbell
  uint32_t error = 0;      ///< VMFT_NIC_ERROR
  bool operator==(const NicState&) const = default;
};

/// The frame NIC's settings (`--tap`), which the guest reads from the NIC's config registers
/// (VMFT_NIC_MAC ...). The same on every replica.
struct FrameConfig {
  uint64_t mac = 0;        ///< 48 bits, the first byte on the wire in bits 0..7
  uint32_t ip = 0;         ///< IPv4, host byte order
  uint8_t prefix_len = 0;  ///< 0..32
  uint32_t gateway = 0;    ///< 0: none
  uint32_t mtu = 1500;     ///< the largest IP packet a frame carries
  /// The largest frame either way: the MTU and the Ethernet header.
  size_t max_frame() const { return size_t{mtu} + VMFT_NIC_ETH_HEADER; }
  bool operator==(const FrameConfig&) const = default;
};

/// Host side of the NIC. Calls come from the vCPU thread and must not block. A backend
/// carries either UDP and TCP (the socket NIC) or Ethernet frames (the frame NIC).
class NetBackend {
 public:
  virtual ~NetBackend() = default;
  virtual bool has_udp() const = 0;
  virtual bool has_tcp() const = 0;
  /// The frame NIC's settings, or nullopt for the socket NIC.
  virtual std::optional<FrameConfig> frames() const = 0;
  /// Sends one Ethernet frame (of at most frames()->max_frame() bytes).
  virtual void send_frame(std::vector<uint8_t> frame) = 0;
  virtual void send_udp(uint32_t peer_ip, uint32_t peer_port, std::vector<uint8_t> data) = 0;
  virtual void send_tcp(uint32_t conn, std::vector<uint8_t> data) = 0;
  /// Closes the connection once everything sent on it has been written.
  virtual void close_tcp(uint32_t conn) = 0;
  /// The sends of one doorbell are all made: a backend that held them may pass them on.
  virtual void flush() {}
  /// The guest has taken in all of `event`: the backend may read more (flow control).
  virtual void delivered(const NetEvent& event) = 0;
};

/// The NIC: descriptor rings in guest RAM (guest/include/vmft/guest/abi.h). Host events wait
/// in a queue and are copied into posted receive descriptors at instruction boundaries; queued
/// sends are taken at each doorbell write. Whether a send is accepted depends only on
/// guest-visible state, so it is the same on every replica.
class Nic final : public MmioDevice {
 public:
  Nic(GuestRam ram, NetBackend& backend) : ram_(ram), backend_(backend) {}
  const char* name() const override { return "nic"; }
  uint64_t read(uint64_t offset) override;
  void write(uint64_t offset, uint64_t value) override;
  /// Covers the registers, the connections the guest knows and the undelivered queue's
  /// length (its contents are inputs, checked where they are logged; the rings are in RAM).
  uint64_t state_hash() const override;

  /// Queues a host event for delivery (vCPU thread).
  void enqueue(NetEvent event);
  /// True when an event waits and a posted receive descriptor can take it.
  bool can_deliver() const;
  /// Fills every posted receive descriptor it can with the queued events (a TCP payload may
  /// span several). Call only at an instruction boundary.
  void deliver();
  bool interrupt_pending() const { return interrupt_; }
  size_t queued() const { return queue_.size(); }

  NicState save() const;
  /// Takes `state` from a snapshot. The backend hears nothing: the queued events came from the
  /// host where the snapshot was taken, and were logged there. Throws std::invalid_argument if
  /// its rings do not fit in this RAM.
  void restore(NicState state);

 private:
  /// Whether a layout is none at all, or one whose header and rings lie wholly inside RAM.
  bool fits(const NicRings& rings) const;
  void set_rings(uint64_t header);
  void ring_doorbell();
  /// The ring header's count at `field` (an offsetof(vmft_nic_rings, ...)).
  uint32_t count(size_t field) const;
  void set_count(size_t field, uint32_t value);
  /// Takes the guest's rx_posted, if it is in range (at most a ring ahead of rx_filled).
  void take_posted();
  /// Sends what tx descriptor `desc` asks, or says why not (a VMFT_NIC_* status).
  uint32_t send(const struct vmft_nic_tx_desc& desc);
  uint32_t send_frame(const struct vmft_nic_tx_desc& desc);
  /// Copies the next event (or the next chunk of its payload) into the rx descriptor at guest
  /// address `desc_addr`; an unusable buffer takes nothing and comes back with kind 0.
  void fill(uint64_t desc_addr);
  void drop_stale_events();

  GuestRam ram_;
  NetBackend& backend_;
  std::deque<NetEvent> queue_;
  size_t front_offset_ = 0;        ///< bytes of queue_.front() already delivered
  std::set<uint32_t> open_conns_;  ///< connections the guest has been told about
  NicRings rings_;
  // What the NIC reads from the ring header it reads only at the guest's register writes, at
  // exact instructions: a plain store to RAM takes effect at the next doorbell, the same on
  // every replica however often each looks at its boundaries.
  uint32_t rx_posted_ = 0, rx_filled_ = 0, tx_done_ = 0;
  bool interrupt_ = false;
  uint32_t error_ = 0;
};

}  // namespace vmft::devices
