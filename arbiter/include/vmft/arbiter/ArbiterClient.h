#pragma once
// The client of the built-in arbiter (`vmft arbiter`), over its text protocol.

#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "vmft/arbiter/Arbiter.h"
#include "vmft/arbiter/LineWire.h"

namespace vmft::arbiter {

/// Talks to one `vmft arbiter` over TCP (or the LineWire it is given). Each call sends one
/// request line and waits for its reply, within the timeout (connecting included); it keeps the
/// connection for the next call and, if the arbiter closed a kept connection meanwhile (idle,
/// restarted), retries once on a new one. A failed or timed-out call closes the connection, so a
/// late reply can never be taken for the next call's. Blocking; any thread may call; calls are
/// serialised (a lock held across the wait).
///
/// A retry may repeat a REGISTER the arbiter had already carried out before its reply was
/// lost; register_epoch therefore also reports ok when the arbiter refuses because the pair
/// is already at expected_epoch + 1, paired, held by this id (only that very registration
/// leads there).
class ArbiterClient final : public Arbiter {
 public:
  static constexpr std::chrono::milliseconds kDefaultTimeout{1000};

  /// `address` is HOST:PORT, HOST an IPv4 address or a host name (resolved at each connect:
  /// a name can block in the resolver beyond the timeout, an address never does). Throws
  /// std::invalid_argument if it is malformed. Connects at the first call, not here. With a
  /// `secret` (--secret-file; empty: none) it answers the arbiter's challenge on every new
  /// connection and requires the arbiter to prove it knows the secret too; without one, an
  /// arbiter that requires one makes every call throw ArbiterUnavailable saying so.
  explicit ArbiterClient(const std::string& address,
                         std::chrono::milliseconds timeout = kDefaultTimeout,
                         std::string secret = {});
  /// As above, over `wire` (the simulation's network), whose clock the timeout is on.
  ArbiterClient(const std::string& address, std::unique_ptr<LineWire> wire,
                std::chrono::milliseconds timeout = kDefaultTimeout, std::string secret = {});
  ~ArbiterClient() override;
  ArbiterClient(const ArbiterClient&) = delete;
  ArbiterClient& operator=(const ArbiterClient&) = delete;

  const std::string& address() const { return address_; }

  ArbiterState read(const std::string& pair) override;
  RegisterResult register_epoch(const std::string& pair, uint64_t expected_epoch,
                                const std::string& id) override;
  TasResult test_and_set(const std::string& pair, uint64_t epoch, const std::string& id) override;
  ReleaseResult release(const std::string& pair, uint64_t epoch, const std::string& id) override;
  PairList list(size_t max) override;

 private:
  using TimePoint = LineWire::TimePoint;
  // A reply is one short line (the longest, LOST or REFUSED with a 128-character holder, is
  // under 200 bytes); anything much longer is not from an arbiter. LIST's is the exception.
  static constexpr size_t kMaxReplyBytes = 1024;

  // Sends `request` and returns the reply line (without its newline), or throws
  // ArbiterUnavailable naming the arbiter. Caller holds mutex_.
  std::string call(const std::string& request, size_t max_reply = kMaxReplyBytes);
  // One attempt on the current connection; false if the arbiter closed it before replying.
  bool try_call(const std::string& request, TimePoint deadline, size_t max_reply,
                std::string& reply);
  void connect(TimePoint deadline);
  void authenticate(TimePoint deadline);
  // Sends `line` and its newline; false if the arbiter closed the connection.
  bool send_line(const std::string& line, TimePoint deadline);
  // Receives one line (without its newline) and nothing after it; false if the arbiter closed
  // the connection before sending a byte. `what` names the line in a timeout's message, and
  // `why_silent` follows it there.
  bool receive_line(TimePoint deadline, const char* what, std::string& line,
                    const char* why_silent = "", size_t max_bytes = kMaxReplyBytes);
  void disconnect();
  [[noreturn]] void fail(const std::string& what);

  std::string address_;
  std::string host_;
  std::string port_;
  std::chrono::milliseconds timeout_;
  std::string secret_;
  std::unique_ptr<LineWire> wire_;  // its open connection is the one kept
  std::mutex mutex_;
};

}  // namespace vmft::arbiter
