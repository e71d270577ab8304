#pragma once
// From an --arbiter address to the client that talks to it, so that the failover code does
// not know which arbiter it has.

#include <memory>
#include <string>
#include <vector>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::arbiter {

/// What an --arbiter address names.
struct ArbiterAddress {
  enum class Kind {
    kBuiltIn,  ///< "HOST:PORT": one `vmft arbiter`
    kEtcd,     ///< "etcd://HOST:PORT[,HOST:PORT...]": members of one etcd cluster
  };
  Kind kind = Kind::kBuiltIn;
  std::vector<std::string> endpoints;  ///< HOST:PORT each, as given; one for kBuiltIn
};

/// Parses an --arbiter address. Throws std::invalid_argument naming what is wrong.
ArbiterAddress parse_arbiter_address(const std::string& text);

/// The client for the arbiter `text` names (ArbiterClient or EtcdArbiter), with its default
/// timeout. It connects at its first call, not here. Throws std::invalid_argument as
/// parse_arbiter_address does. `secret` (--secret-file; empty: none) authenticates to a
/// `vmft arbiter`; etcd has its own access control, so EtcdArbiter does not use it.
std::unique_ptr<Arbiter> connect_arbiter(const std::string& text, const std::string& secret = {});

}  // namespace vmft::arbiter
