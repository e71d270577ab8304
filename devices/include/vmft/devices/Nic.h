#pragma once

#include <cstdint>
#include <deque>
#include <set>
#include <span>
#include <vector>

#include "vmft/devices/GuestRam.h"
#include "vmft/devices/MmioDevice.h"

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

/// Everything that decides the NIC's future, for snapshots: its registers, the connections the
/// guest has been told about, and the host events not yet (or only partly) delivered.
struct NicState {
  std::vector<NetEvent> queue;
  uint64_t front_offset = 0;         ///< bytes of queue.front() already delivered
  std::vector<uint32_t> open_conns;  ///< ascending
  bool rx_full = false;
  uint64_t rx_kind = 0, rx_conn = 0, rx_len = 0, rx_peer_ip = 0, rx_peer_port = 0;
  uint64_t rx_buf_addr = 0, rx_buf_size = 0;
  uint64_t tx_kind = 0, tx_conn = 0, tx_peer_ip = 0, tx_peer_port = 0;
  uint64_t tx_buf_addr = 0, tx_len = 0, tx_status = 0;
  bool operator==(const NicState&) const = default;
};

/// Host side of the NIC. Calls come from the vCPU thread and must not block.
class NetBackend {
 public:
  virtual ~NetBackend() = default;
  virtual bool has_udp() const = 0;
  virtual bool has_tcp() const = 0;
  virtual void send_udp(uint32_t peer_ip, uint32_t peer_port, std::vector<uint8_t> data) = 0;
  virtual void send_tcp(uint32_t conn, std::vector<uint8_t> data) = 0;
  /// Closes the connection once everything sent on it has been written.
  virtual void close_tcp(uint32_t conn) = 0;
  /// The guest has taken in all of `event`: the backend may read more (flow control).
  virtual void delivered(const NetEvent& event) = 0;
};

/// The NIC: one receive slot, filled from a queue of host events at instruction boundaries,
/// and a transmit path that copies payloads out of guest RAM. Whether a send is accepted
/// depends only on guest-visible state, so it is the same on every replica.
class Nic final : public MmioDevice {
 public:
  Nic(GuestRam ram, NetBackend& backend) : ram_(ram), backend_(backend) {}
  const char* name() const override { return "nic"; }
  uint64_t read(uint64_t offset) override;
  void write(uint64_t offset, uint64_t value) override;
  /// Covers the registers, the connections the guest knows and the undelivered queue's
  /// length (its contents are inputs, checked where they are logged).
  uint64_t state_hash() const override;

  /// Queues a host event for delivery (vCPU thread).
  void enqueue(NetEvent event);
  /// True when an event waits and the slot and receive buffer can take it.
  bool can_deliver() const;
  /// Copies the next event (or the next chunk of a TCP payload) into the receive buffer and
  /// fills the slot. Call only at an instruction boundary, when can_deliver().
  void deliver();
  bool interrupt_pending() const { return rx_full_; }
  size_t queued() const { return queue_.size(); }

  NicState save() const;
  /// Takes `state` from a snapshot. The backend hears nothing: the queued events came from the
  /// host where the snapshot was taken, and were logged there.
  void restore(NicState state);

 private:
  void send();
  uint32_t check_send(std::span<uint8_t>& payload) const;

  GuestRam ram_;
  NetBackend& backend_;
  std::deque<NetEvent> queue_;
  size_t front_offset_ = 0;        ///< bytes of queue_.front() already delivered
  std::set<uint32_t> open_conns_;  ///< connections the guest has been told about

  bool rx_full_ = false;
  uint64_t rx_kind_ = 0, rx_conn_ = 0, rx_len_ = 0, rx_peer_ip_ = 0, rx_peer_port_ = 0;
  uint64_t rx_buf_addr_ = 0, rx_buf_size_ = 0;
  uint64_t tx_kind_ = 0, tx_conn_ = 0, tx_peer_ip_ = 0, tx_peer_port_ = 0;
  uint64_t tx_buf_addr_ = 0, tx_len_ = 0, tx_status_ = 0;
};

}  // namespace vmft::devices
