#pragma once
// The built-in arbiter's TCP server: newline-terminated text requests, one reply line each
// (docs/arbiter-protocol.md), decided by an Arbiter (an ArbiterStore in `vmft arbiter`).

#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::arbiter {

/// Bounds on what one client can cost the server.
struct ServerLimits {
  /// The longest request is a command, a 64-character pair name, a 20-digit epoch and a
  /// 128-character id, about 230 bytes; 1 KiB leaves room and keeps buffers small. A longer
  /// line is discarded up to its newline and answered with ERR.
  size_t max_line_bytes = 1024;
  /// A connection that sends nothing, or does not take its replies, for this long is closed,
  /// so crashed or stuck clients do not hold sockets forever. ArbiterClient reconnects.
  std::chrono::milliseconds idle_timeout{60000};
  /// Connections beyond this are answered ERR and closed: file descriptors must remain for
  /// the state files, and the usual limit is 1024.
  size_t max_connections = 512;
};

/// The reply line (without its newline) to one request line: parses it, asks `arbiter`, and
/// logs each decision at info level. A bad request or a failed decision gets
/// "ERR <message>"; it never throws.
std::string answer_request(Arbiter& arbiter, std::string_view line);

/// Serves the protocol on an io_context: requests from all connections are answered one at a
/// time, in the io_context's thread. Every method is called on that thread, or while the
/// io_context is not running. `arbiter` must outlive every run of the io_context.
class ArbiterServer {
 public:
  /// Binds and listens on `listen` (port 0 picks a free one) and starts accepting. Throws
  /// std::system_error naming the address if it cannot bind.
  /// With a `secret` (--secret-file; empty: none), each connection is greeted with a challenge
  /// and its requests are answered only after it proved it knows the secret
  /// (docs/arbiter-protocol.md).
  ArbiterServer(asio::io_context& io, const asio::ip::tcp::endpoint& listen, Arbiter& arbiter,
                ServerLimits limits = {}, std::string secret = {});
  ~ArbiterServer();  ///< stop()
  ArbiterServer(const ArbiterServer&) = delete;
  ArbiterServer& operator=(const ArbiterServer&) = delete;

  asio::ip::tcp::endpoint local_endpoint() const { return local_; }
  size_t open_connections() const;

  /// Stops accepting and closes every connection; the server then leaves no work in the
  /// io_context, so a run() with nothing else to do returns.
  void stop();

 private:
  class Connection;
  struct Shared;

  void accept();
  void admit(asio::ip::tcp::socket socket);

  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::endpoint local_;
  asio::steady_timer accept_retry_;
  std::shared_ptr<Shared> shared_;
};

}  // namespace vmft::arbiter
