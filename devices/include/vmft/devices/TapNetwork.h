#pragma once

#include <asio.hpp>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "vmft/devices/FrameFaults.h"
#include "vmft/devices/Nic.h"

namespace vmft::devices {

/// The frame NIC's host side: a TAP device (/dev/net/tun, IFF_TAP | IFF_NO_PI), whose frames
/// go to the guest and back, Ethernet headers and all. The guest runs its own TCP/IP stack.
///
/// Frames read from the device go to `sink` on the io_context's thread. There they may be
/// dropped, before they become inputs (so a replay and a backup see exactly what was
/// delivered): a frame longer than the MTU allows, and any frame while kMaxUndelivered wait
/// for the guest, as a switch drops what a port cannot take. Sends are written at once, with a
/// non-blocking write from the calling thread; a frame the device cannot take now is dropped,
/// as on a wire. TCP recovers from both.
class TapNetwork final : public NetBackend {
 public:
  using Sink = std::function<void(NetEvent)>;
  /// A guest that takes this many frames late is far behind; 1024 frames of 1514 bytes are
  /// 1.5 MiB.
  static constexpr size_t kMaxUndelivered = 1024;

  /// A frame held back for reordering goes on after this long if no other frame comes.
  static constexpr std::chrono::milliseconds kReorderHold{20};

  /// Opens (attaches to) the TAP device `ifname`, creating it if it does not exist, which
  /// needs CAP_NET_ADMIN. Throws std::system_error naming the device. With `faults`, frames
  /// both ways go through them (tests of the guest's stack).
  TapNetwork(asio::io_context& io, const std::string& ifname, FrameConfig config, Sink sink,
             FrameFaultRates faults = {});

  /// Starts reading frames (once: a second call does nothing).
  void start();

  /// A backup's device, before it goes live: reads frames from now on, but keeps the last
  /// kHeardFrames of them instead of handing them to the guest, and sends nothing. Where the
  /// switch floods the guest's frames to every port of the pair (scripts/netlab's bridge does),
  /// these are the frames its primary got too, and those the primary took but never logged,
  /// which a failover would otherwise lose.
  void start_standby();
  /// Going live: hands the guest the link event, then the frames heard since the last of
  /// `last_logged` (the frames the primary logged last, oldest first), found among those
  /// heard by its bytes and those of the one before it; from then on frames go to the guest
  /// as they come. When the last logged frame was not heard (or is ambiguous), no heard frame
  /// is handed on (TCP will resend them); when none was logged, every heard one is. Returns
  /// how many heard frames it handed on.
  size_t take_over(const std::deque<std::vector<uint8_t>>& last_logged);
  static constexpr size_t kHeardFrames = 4096;

  bool has_udp() const override { return false; }
  bool has_tcp() const override { return false; }
  std::optional<FrameConfig> frames() const override { return config_; }
  void send_udp(uint32_t, uint32_t, std::vector<uint8_t>) override {}
  void send_tcp(uint32_t, std::vector<uint8_t>) override {}
  void close_tcp(uint32_t) override {}
  void send_frame(std::vector<uint8_t> frame) override;
  void delivered(const NetEvent& event) override;

  /// Frames dropped on the way in (too long, or the guest too far behind) and on the way out.
  uint64_t dropped_in() const { return dropped_in_.load(std::memory_order_relaxed); }
  uint64_t dropped_out() const { return dropped_out_.load(std::memory_order_relaxed); }

 private:
  void read_next();
  void take_in(std::vector<uint8_t> frame);  // io thread
  void write_out(const std::vector<uint8_t>& frame);
  void release_out();

  FrameConfig config_;
  Sink sink_;
  asio::io_context& io_;
  asio::posix::stream_descriptor tap_;
  std::optional<FrameFaults> in_faults_;  // io thread only
  asio::steady_timer in_release_;
  std::mutex out_mutex_;                   // sends come from the vCPU and the output gate
  std::optional<FrameFaults> out_faults_;  // under out_mutex_
  asio::steady_timer out_release_;         // io thread only
  std::vector<uint8_t> buffer_;
  bool reading_ = false;
  std::mutex standby_mutex_;                // the io thread's take_in against take_over
  bool standby_ = false;                    // under standby_mutex_
  std::deque<std::vector<uint8_t>> heard_;  // under standby_mutex_
  std::atomic<size_t> undelivered_{0};
  std::atomic<uint64_t> dropped_in_{0};
  std::atomic<uint64_t> dropped_out_{0};
};

/// Where the frames `last` (the last ones a primary logged, oldest first) end among `heard`
/// (those a backup's device heard): the index after the latest heard frame equal to the last
/// logged one whose predecessor, when both have one, equals the logged one before it; nullopt
/// when there is none (or nothing was logged). Equal frames are rare (a retransmitted TCP
/// segment carries a new IPv4 identification), and the latest match errs towards handing on
/// too few, which TCP resends, rather than a frame twice.
std::optional<size_t> after_last_logged(const std::deque<std::vector<uint8_t>>& heard,
                                        const std::deque<std::vector<uint8_t>>& last);

}  // namespace vmft::devices
