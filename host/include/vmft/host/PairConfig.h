#pragma once
// What a side of a pair is to run, as the command line asked for it (checked already, the
// guest loaded): the sessions' one input besides the event log.

#include <asio.hpp>
#include <cstdint>
#include <optional>
#include <string>

#include "vmft/channel/Channel.h"
#include "vmft/host/LiveRun.h"
#include "vmft/hypervisor/ElfLoader.h"

namespace vmft::host {

struct PairConfig {
  GuestConfig guest;
  hypervisor::GuestImage image;  ///< the guest, loaded
  std::string name;              ///< the pair's
  std::string id;                ///< this side's id at the arbiter; empty: side_id's default
  std::string arbiter;           ///< the arbiter's address (ConnectArbiter.h); empty: none
  channel::ChannelConfig channel;
  /// Where the primary listens, or where the backup connects, as given (for messages) and
  /// as an address.
  std::string channel_address;
  asio::ip::tcp::endpoint channel_endpoint;
  std::optional<asio::ip::tcp::endpoint> listen_endpoint;  ///< a backup's --log-listen
  std::optional<asio::ip::tcp::endpoint> status_endpoint;  ///< --status-listen
  double status_interval = 10;                             ///< seconds; 0: no status lines
  std::string on_live;          ///< the command run when this side goes live; empty: none
  bool join = false;            ///< backup: join a running primary
  double wait_for_primary = 0;  ///< backup: seconds to wait for the primary; 0: for ever
};

/// Who this side is, to the arbiter: `config.id`, or ROLE@HOST:PORT with the port of its own
/// logging channel (0: none), which stays the same when the same command starts it again and
/// differs from its peer's (two processes cannot listen on one port of one host).
std::string side_id(const PairConfig& config, const char* role, uint16_t log_port);

}  // namespace vmft::host
