#pragma once
// What a side of a pair says about itself, for programs and for people: with --status-listen,
// `GET /metrics` (the Prometheus text format) and `GET /status` (JSON); `vmft status HOST:PORT`
// prints the JSON for people. Formatting and parsing are pure functions; StatusServer is the
// small HTTP server, on the side's io thread.

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace vmft::host {

/// One side of a pair, as it stands.
struct SideStatus {
  std::string pair;
  std::string id;      ///< its id at the arbiter
  std::string role;    ///< "primary", "backup", or "live" (a backup that went live)
  std::string state;   ///< "paired", "alone", "asking the arbiter", "joining", "replaying", ...
  uint64_t epoch = 0;  ///< 0: none yet (or none known to a backup)
  uint64_t instructions = 0;  ///< how far this side's guest has run
  /// The live side: the last log record sent, and the last its backup acknowledged. A backup:
  /// the last received, and the last it acknowledged.
  uint64_t log_seq = 0;
  uint64_t log_acked = 0;
  bool has_peer = false;  ///< a live side with a backup in the log's stream, or a backup
  /// How far the backup trails, in instructions and in log records (0 without a peer).
  uint64_t lag_instructions = 0;
  uint64_t lag_records = 0;
  uint64_t outputs_held = 0;  ///< sends waiting for the backup's acknowledgement
  uint64_t outputs_held_bytes = 0;
  double oldest_output_held_seconds = 0;
  uint64_t log_bytes_sent = 0;
  uint64_t log_bytes_received = 0;
  uint64_t failovers = 0;                 ///< times this process went live as a backup (0 or 1)
  uint64_t joins = 0;                     ///< backups that joined this side
  std::string arbiter;                    ///< its address; empty: none
  std::optional<bool> arbiter_reachable;  ///< as last probed; nullopt: not yet, or no arbiter
  std::optional<uint64_t> client_connections;  ///< the socket NIC's TCP clients
};

/// The Prometheus text exposition format (version 0.0.4): vmft_info with the pair, id, role and
/// state as labels, then one gauge or counter per number.
std::string format_metrics(const SideStatus& status);
/// One JSON object with the fields above.
std::string format_status_json(const SideStatus& status);
/// The inverse of format_status_json. Throws std::runtime_error saying what is missing or
/// malformed.
SideStatus parse_status_json(std::string_view text);
/// A few lines for people (`vmft status`).
std::string describe_status(const SideStatus& status);

namespace detail {
struct StatusShared;  ///< what the server and its connections share
}  // namespace detail

/// Serves GET /metrics and GET /status on `listen` from `snapshot`, which it calls on the io
/// thread for each request. One request per connection (HTTP/1.0 style: the reply closes it);
/// a request must arrive within 5 s and fit in 8 KiB. Throws std::system_error if it cannot
/// bind.
class StatusServer {
 public:
  StatusServer(asio::io_context& io, const asio::ip::tcp::endpoint& listen,
               std::function<SideStatus()> snapshot);
  ~StatusServer();
  StatusServer(const StatusServer&) = delete;
  StatusServer& operator=(const StatusServer&) = delete;

  asio::ip::tcp::endpoint local_endpoint() const;

 private:
  void accept();

  asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<detail::StatusShared> shared_;
};

/// GET `path` from a status server at HOST:PORT; the body of a 200 reply, or std::runtime_error
/// saying what went wrong (within `timeout`).
std::string fetch_status(const std::string& address, const std::string& path,
                         std::chrono::milliseconds timeout);

/// `vmft status`: prints the status of the side at HOST:PORT `address`, for people or (`json`)
/// as it came. Returns vmft's exit code: 1 for an answer that is not a status; a side that
/// does not answer throws std::runtime_error, a bad address std::invalid_argument.
int print_status(const std::string& address, bool json, std::chrono::milliseconds timeout);

}  // namespace vmft::host
