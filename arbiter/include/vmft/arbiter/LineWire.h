#pragma once
// What ArbiterClient's requests and replies travel over: one stream connection at a time,
// carrying newline-terminated lines, with deadlines on the wire's own clock. The real one
// (PosixLineWire, built by ArbiterClient's usual constructor) is a blocking socket, poll and
// steady_clock; the simulation passes one over its simulated network, on its simulated clock.

#include <chrono>
#include <cstddef>
#include <stdexcept>
#include <string>

namespace vmft::arbiter {

/// A failure of the wire that is neither a timeout nor the peer's close (a refused connection,
/// a reply line too long, an error from the system): what() says what, for the client's message.
class WireError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// One caller at a time (ArbiterClient serialises its calls). Every call but close() may throw
/// WireError.
class LineWire {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  /// How a call ended: done, the peer closed the connection first (for receive_line(): before
  /// a byte of the line), or the deadline passed first.
  enum class Status { kDone, kClosed, kTimedOut };

  struct Line {
    Status status = Status::kDone;
    std::string text;   ///< kDone: the line, without its newline (nor a '\r' before it)
    bool more = false;  ///< kDone: bytes came after the newline
  };

  virtual ~LineWire() = default;

  /// The wire's clock, which deadlines are on.
  virtual TimePoint now() = 0;
  /// Opens a connection to `host`:`port` (kDone or kTimedOut), closing any open one first.
  virtual Status connect(const std::string& host, const std::string& port, TimePoint deadline) = 0;
  virtual bool connected() const = 0;
  /// Sends `line` and a newline on the open connection.
  virtual Status send_line(const std::string& line, TimePoint deadline) = 0;
  /// Receives one line; a line longer than `max_bytes` is a WireError.
  virtual Line receive_line(TimePoint deadline, size_t max_bytes) = 0;
  /// Closes the connection, if one is open; a reply still on its way is never read.
  virtual void close() = 0;
};

}  // namespace vmft::arbiter
