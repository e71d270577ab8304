#pragma once

#include <asio.hpp>
#include <chrono>
#include <cstddef>
#include <string>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::host {

/// What `vmft arbiter` serves, and where.
struct ArbiterConfig {
  asio::ip::tcp::endpoint listen;                 ///< port 0: any free one
  std::string data;                               ///< the pairs' state directory
  std::chrono::milliseconds idle_timeout{60000};  ///< a silent connection's
  std::string secret;                             ///< empty: clients need not prove anything
  std::string secret_file;                        ///< where the secret came from, for messages
};

/// Serves the arbiter until SIGINT, SIGTERM or SIGHUP; returns vmft's exit code. Throws for a
/// state directory it cannot use.
int serve_arbiter(const ArbiterConfig& config);

/// The most pairs `vmft arbiter list` prints: a READ each.
inline constexpr size_t kMaxListed = 1000;

/// `vmft arbiter list`: the pairs `arbiter` knows (at most kMaxListed), one line each.
int list_pairs(arbiter::Arbiter& arbiter);
/// `vmft arbiter show`: `pair`'s epoch, mode and holder.
int show_pair(arbiter::Arbiter& arbiter, const std::string& pair);
/// `vmft arbiter release`: ends `pair` at the arbiter, whoever holds it, unless it changes
/// meanwhile.
int release_pair(arbiter::Arbiter& arbiter, const std::string& pair);

}  // namespace vmft::host
