#pragma once
// vmft-incr-client (examples/incr-client) as the failover, join and frame NIC sections run it:
// a client that INCRs one key without pause, and reports every wait for a reply over a bound
// with its wall-clock start and end.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "Bench.h"

namespace vmft::bench {

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

/// Starts the client, through `wrapper`, with `args` after --tcp HOST:PORT, and waits until it
/// has had an INCR acknowledged; one that has not within kStartTimeout fails the run `what`.
std::unique_ptr<integration::Subprocess> start_incr_client(const Programs& programs,
                                                           const std::vector<std::string>& wrapper,
                                                           const std::vector<std::string>& args,
                                                           const std::string& what,
                                                           const std::vector<Output>& shown);

}  // namespace vmft::bench
