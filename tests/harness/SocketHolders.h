#pragma once

#include <sys/types.h>

#include <cstdint>
#include <set>
#include <string>
#include <vector>

namespace vmft::integration {

/// Which of `pids` hold an IPv4 socket of `protocol` ("tcp" or "udp") whose local port is
/// `port`: a listener, a connection accepted on it, or a bound datagram socket, as
/// /proc/net/<protocol> and /proc/<pid>/fd show them. A process that holds none cannot send
/// to clients from that port. Processes that have gone are left out.
std::set<pid_t> socket_holders(const std::string& protocol, uint16_t port,
                               const std::vector<pid_t>& pids);

}  // namespace vmft::integration
