#pragma once
// The channel's handshake, both sides (docs/channel-protocol.md): a backup's hello (or join),
// with a secret the primary's challenge and the backup's proof, and the primary's welcome or
// refusal, which with a secret proves the primary knows it too. Each side hands its end an
// authenticated link. Private to channel; io thread only, except where it says.

#include <asio.hpp>
#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "Messages.h"
#include "Transport.h"
#include "vmft/auth/Secret.h"
#include "vmft/channel/Channel.h"

namespace vmft::channel::detail {

/// A backup that passed the primary's side of the handshake: it knows the secret, if there is
/// one, and its hello is of this protocol version and matches the primary (pairing_mismatch,
/// its id). Its link is paused; the primary's end welcomes it or refuses it.
struct Admission {
  std::shared_ptr<FrameLink> link;
  Hello hello;
  bool join = false;  ///< it came with a join, not a hello
  std::string from;   ///< its address, for messages
  /// What the welcome carries: with a secret, the primary's proof.
  std::optional<auth::Mac> welcome_proof;
};

/// Refuses a backup in the handshake, saying why to it and to the log, and closes its link.
void refuse_backup(const std::shared_ptr<FrameLink>& link, const std::string& from,
                   const std::string& reason);

/// The primary's side: listens, and runs the handshake of every connection, a few at a time,
/// each within config.handshake_timeout. Refuses (and logs) those that fail it.
class PrimaryHandshake {
 public:
  using Admitted = std::function<void(Admission)>;

  /// Binds `listen` now; throws std::system_error naming the address if it cannot. Starts
  /// accepting once `io` runs. `config` must outlive this (its id may change before `io` runs).
  PrimaryHandshake(asio::io_context& io, const asio::ip::tcp::endpoint& listen,
                   const ChannelConfig& config, Admitted admitted);

  asio::ip::tcp::endpoint local_endpoint() const { return local_; }
  /// Stops accepting and closes every connection still in the handshake.
  void close();

 private:
  /// A connection in the handshake.
  struct Pending {
    std::weak_ptr<FrameLink> link;
    std::shared_ptr<bool> handed_over;  ///< admitted: no longer the handshake's
    bool open() const;
  };

  void start_accept();
  std::optional<Pending> admit(const std::shared_ptr<FrameLink>& link);
  void challenge(const Pending& pending);
  void check_hello(const Pending& pending, std::span<const uint8_t> hello,
                   const std::optional<auth::Nonce>& backup_nonce);

  asio::io_context& io_;
  const ChannelConfig& config_;
  Admitted admitted_;
  asio::ip::tcp::acceptor acceptor_;
  asio::ip::tcp::endpoint local_;
  std::vector<Pending> pending_;
  bool refusing_crowd_ = false;  ///< refused one as pending_ was full
};

/// The backup's side: connects (retrying while nothing listens), says hello or join, proves it
/// knows the secret when challenged, and checks the primary's answer.
class BackupHandshake {
 public:
  /// All called on the io thread.
  struct Handlers {
    /// Whether the end was shut down (from any thread): then a connection made does nothing.
    std::function<bool()> stopped;
    /// The primary welcomed this backup (and proved it knows the secret, if there is one). The
    /// link is paused.
    std::function<void(std::shared_ptr<FrameLink>)> welcomed;
    /// The primary refused this backup, or (by_us) this backup the primary; the link is closed.
    std::function<void(std::string why, bool by_us)> refused;
    /// The primary is lost before it answered.
    std::function<void(const std::string& why)> lost;
  };

  BackupHandshake(asio::io_context& io, const ChannelConfig& config, Handlers handlers);

  /// Connects to `primary` and starts the handshake, with a join if `join`.
  void connect(const asio::ip::tcp::endpoint& primary, bool join);
  /// No more retries nor waits for an answer.
  void cancel() { timer_.cancel(); }

 private:
  void greet(std::shared_ptr<FrameLink> link, const asio::ip::tcp::endpoint& primary, bool join);
  void expect_answer(const std::shared_ptr<FrameLink>& link, const std::string& where);
  void refused(const std::shared_ptr<FrameLink>& link, std::string why, bool by_us);
  void lost(const std::string& why);
  void stop_waiting();

  asio::io_context& io_;
  const ChannelConfig& config_;
  Handlers handlers_;
  asio::steady_timer timer_;  ///< the next connection attempt, or the wait for an answer
  bool said_waiting_ = false;
  uint64_t answer_waits_ = 0;  ///< waits begun, so a stale one does nothing
};

}  // namespace vmft::channel::detail
