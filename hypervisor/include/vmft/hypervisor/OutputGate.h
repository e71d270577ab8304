#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <vector>

#include "vmft/devices/Nic.h"

namespace vmft::hypervisor {

/// The output rule: the guest's sends and console writes wait here until the backup has
/// acknowledged the log through the record that announced them, then leave in the order the
/// guest made them. The vCPU never waits for the gate.
class OutputGate final : public devices::NetBackend {
 public:
  /// Takes the console output of a log record (its seq, its bytes) once released, on the
  /// thread that releases it; like a send, it must not block.
  using Console = std::function<void(uint64_t, std::span<const uint8_t>)>;
  /// `net` must outlive the gate; its send calls must not block (AsioNetwork posts them).
  explicit OutputGate(devices::NetBackend& net, Console console = {})
      : net_(net), console_(std::move(console)) {}

  /// The sends that follow wait for record `seq` (vCPU thread, before each send, and before
  /// that record can reach the backup: see left_through()).
  void hold_until(uint64_t seq) { hold_seq_.store(seq, std::memory_order_release); }

  bool has_udp() const override { return net_.has_udp(); }
  bool has_tcp() const override { return net_.has_tcp(); }
  std::optional<devices::FrameConfig> frames() const override { return net_.frames(); }
  void send_udp(uint32_t peer_ip, uint32_t peer_port, std::vector<uint8_t> data) override;
  void send_tcp(uint32_t conn, std::vector<uint8_t> data) override;
  void close_tcp(uint32_t conn) override;
  void send_frame(std::vector<uint8_t> frame) override;
  void delivered(const devices::NetEvent& event) override { net_.delivered(event); }
  /// The guest wrote `bytes` to its console (vCPU thread).
  void write_console(std::span<const uint8_t> bytes);

  /// The backup acknowledged the log through `seq`: what waited for it leaves (any thread).
  void acknowledged(uint64_t seq);
  /// Everything held leaves now, and later sends pass at once: the primary goes on alone.
  void open();
  /// A backup joined with the log through record `seq`: later sends wait for its
  /// acknowledgements again (vCPU thread, where the snapshot is taken).
  void hold_again(uint64_t seq);

  /// Every output of the records through this seq has left the gate (any thread): the backup
  /// acknowledged it, and the vCPU had made it. An acknowledgement can overtake the output it
  /// covers (the record is sent before the vCPU hands the send to the gate); this stops short
  /// of it until the vCPU has.
  uint64_t left_through() const;

  /// Sends waiting, and their payload bytes (any thread).
  size_t held() const;
  size_t held_bytes() const;
  /// How long the oldest send waiting has waited (any thread); zero when none waits.
  std::chrono::steady_clock::duration oldest_held_age() const;

 private:
  struct Send {
    enum class Kind { kUdp, kTcp, kClose, kFrame, kConsole } kind;
    uint64_t seq;
    uint32_t conn_or_ip;
    uint32_t port;
    std::vector<uint8_t> data;
    std::chrono::steady_clock::time_point held_at{};  ///< set once it waits
  };
  void pass(Send& send);
  void submit(Send send);

  devices::NetBackend& net_;
  Console console_;
  std::atomic<uint64_t> hold_seq_{0};  ///< written by the vCPU thread
  uint64_t submitted_seq_ = 0;         ///< the hold_seq_ of the last send made
  mutable std::mutex mutex_;
  std::deque<Send> held_;
  size_t held_bytes_ = 0;
  uint64_t acked_ = 0;
  bool open_ = false;
};

}  // namespace vmft::hypervisor
