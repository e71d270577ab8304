#pragma once
// The channel's transport: checksummed frames (logchannel/Frame.h) over one TCP connection, on
// the io thread. Nothing here knows what a frame says. Private to channel.

#include <array>
#include <asio.hpp>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vmft/logchannel/Frame.h"

namespace vmft::channel::detail {

/// `payload` in a frame, ready to write.
std::vector<uint8_t> framed(std::span<const uint8_t> payload);

/// "127.0.0.1:7000": how addresses appear in messages.
std::string endpoint_text(const asio::ip::tcp::endpoint& ep);
/// The peer's address of `socket`, or "an unknown address".
std::string remote_text(const asio::ip::tcp::socket& socket);

/// One TCP connection carrying frames. io thread only.
class FrameLink : public std::enable_shared_from_this<FrameLink> {
 public:
  using FrameHandler = std::function<void(std::span<const uint8_t>)>;
  using ErrorHandler = std::function<void(const std::string&)>;

  /// Turns Nagle's algorithm off: every frame is a message someone waits for.
  explicit FrameLink(asio::ip::tcp::socket socket);

  asio::ip::tcp::socket& socket() { return socket_; }
  /// May be called from within the frame handler: the new ones take over after it returns.
  /// A closed link takes none: handlers often hold the link, and would keep it alive.
  void set_handlers(FrameHandler on_frame, ErrorHandler on_error);

  /// Reads frames of at most `max_payload` bytes, one after the other, into the frame handler,
  /// until paused or closed. A larger one, a bad checksum or an empty frame fails the link.
  void read(uint32_t max_payload);
  void pause() { paused_ = true; }

  /// Sends `frame` after those before it; `done` runs once it is written. A closed link
  /// drops it (and `done`).
  void write(std::vector<uint8_t> frame, std::function<void()> done = {});

  void close();
  bool closed() const { return closed_; }
  /// Whether bytes from the peer wait in the socket, not yet read: the peer spoke, even if
  /// this process has not yet had the time to read what it said.
  bool has_unread_bytes();

 private:
  struct Write {
    std::vector<uint8_t> frame;
    std::function<void()> done;
  };

  void fail(const std::string& why);
  void drop_handlers();
  void read_header();
  void read_payload();
  void write_front();

  asio::ip::tcp::socket socket_;
  FrameHandler on_frame_;
  ErrorHandler on_error_;
  bool in_handler_ = false;
  std::optional<std::pair<FrameHandler, ErrorHandler>> next_handlers_;
  std::array<uint8_t, logchannel::kFrameHeaderBytes> header_{};
  std::vector<uint8_t> payload_;
  uint32_t checksum_ = 0;
  uint32_t max_payload_ = 0;  ///< read() sets it
  bool reading_ = false;
  bool paused_ = false;
  bool closed_ = false;
  std::deque<Write> writes_;
};

}  // namespace vmft::channel::detail
