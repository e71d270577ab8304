#pragma once
// vmft-incr-client (examples/incr-client) as the failover, join and frame NIC sections run it:
// a client that INCRs one key without pause, and reports every wait for a reply over a bound
// with its wall-clock start and end.

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "Bench.h"

namespace vmft::bench {

// How the failover and frame NIC sections run the client around a kill of the primary.
// The client runs this long around each kill: about 0.3 s of load before it, and ample time for
// the backup, which the default 200 ms peer timeout bounds, to take over after it.
inline constexpr const char* kFailoverClientSeconds = "1.5";
// Steady replies before the kill: a length of load, not a wait for anything.
inline constexpr std::chrono::milliseconds kFailoverLoadBefore{200};
// The client reports every wait for a reply longer than this, and whether the reply came on a
// new connection. The first reply the backup serves comes on a new connection after a wait that
// began before the kill and lasted past a takeover (the backup sees the channel reset, asks the
// arbiter and binds the port), so longer than this. A reply the primary sent just before dying
// can still be read just after the kill, on the old connection: it is not the backup's.
inline constexpr const char* kFailoverGapMs = "1";

/// A wait the client reported: "incr-client: gap 18.743 ms without a reply, from
/// 1795739618996.930 to 1795739619015.673 ms since the epoch (CLOCK_REALTIME), on a new
/// connection".
struct Gap {
  double ms = 0;
  double from_ms = 0;  // wall clock, ms since the epoch
  double to_ms = 0;
  bool new_connection = false;
};

/// The gaps in the client's output, in order.
std::vector<Gap> gaps_of(const std::string& output);

/// Across a kill of the primary at `kill_ms` (wall clock): from the kill to the end of the wait
/// that ended with the first reply the backup served (the first wait ending after the kill with
/// a reply on a new connection), and the longest wait on one connection before it (the pair's
/// usual). nullopt if no reply came on a new connection after the kill.
struct Takeover {
  double first_reply_ms = 0;
  double longest_before_ms = 0;
};
std::optional<Takeover> takeover_seen(const std::vector<Gap>& gaps, double kill_ms);

/// The longest wait that ended after `kill_ms`: on the frame NIC, where the client keeps its
/// connection, the one the kill falls in. 0 if none did.
double longest_wait_after(const std::vector<Gap>& gaps, double kill_ms);

/// What a client run to its end reported, checked against the counter it INCRed.
struct CounterCheck {
  std::string highest;  // the highest value the client was acknowledged
  std::string value;    // the counter's
};
/// The client `client`, which exited, must have exited 0 (no wrong reply, no value backwards),
/// and counter `key` at 127.0.0.1:port must hold at least its highest acknowledged value
/// (`when`, e.g. "after failover", says when in a failure); otherwise the run `what` fails,
/// showing `shown`.
CounterCheck check_counter(int client_exit, const integration::Subprocess& client, uint16_t port,
                           const std::string& key, const std::string& what, const std::string& when,
                           const std::vector<Output>& shown);

/// Starts the client, through `wrapper`, with `args` after --tcp HOST:PORT, and waits until it
/// has had an INCR acknowledged; one that has not within kStartTimeout fails the run `what`.
std::unique_ptr<integration::Subprocess> start_incr_client(const Programs& programs,
                                                           const std::vector<std::string>& wrapper,
                                                           const std::vector<std::string>& args,
                                                           const std::string& what,
                                                           const std::vector<Output>& shown);

/// The value of counter `key` at host:port, asked with redis-cli through `wrapper`, without its
/// line feed ("" if none came).
std::string counter_value(const std::vector<std::string>& wrapper, const std::string& host,
                          uint16_t port, const std::string& key);

/// Whether `value` is a number of at least `least` (both as processes printed them).
bool holds_at_least(const std::string& value, const std::string& least);

}  // namespace vmft::bench
