#pragma once
// The flags both sides of a pair take (`vmft primary`, `vmft backup`), and the config they
// turn into.

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

#include "LiveOptions.h"
#include "vmft/host/PairConfig.h"

namespace vmft::cli {

struct PairOptions {
  LiveOptions live;
  std::string name;
  std::string channel;  ///< --log-listen (primary) or --log-connect (backup)
  uint32_t heartbeat_ms = 25;
  uint32_t peer_timeout_ms = 200;
  std::string log_buffer = "8M";
  std::string max_lag = "16M";    ///< primary only
  uint32_t max_lag_time_ms = 10;  ///< primary only
  double status_interval = 10;    ///< seconds
  std::string arbiter;            ///< the arbiter's address (ConnectArbiter.h); empty: none
  std::string listen;             ///< backup: --log-listen, where backups join it once live
  bool join = false;              ///< backup: join a running primary
  std::string secret_file;        ///< --secret-file; empty: none
  std::string id;                 ///< --id; empty: side_id's default
  double wait_for_primary = 0;    ///< backup: seconds to wait for the primary; 0: for ever
  std::string status_listen;      ///< --status-listen HOST:PORT; empty: none
  std::string on_live;            ///< --on-live CMD; empty: none
  std::string events;             ///< --events FILE or fd:N; empty: none
};

/// Adds the guest's flags and those of both sides of a pair to `cmd`.
void add_pair_options(CLI::App& cmd, PairOptions& options);

/// Everything a side needs before its guest starts: the checked options, the guest image
/// (loaded), the secret (read), the channel's configuration. Throws std::invalid_argument for
/// a bad flag, and ElfError or std::runtime_error for a guest or secret file it cannot use.
host::PairConfig pair_config(const PairOptions& options);

}  // namespace vmft::cli
