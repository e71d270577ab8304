#include "SocketHolders.h"

#include <filesystem>
#include <fstream>
#include <sstream>

namespace vmft::integration {

namespace {

// The inodes of the sockets in /proc/net/<protocol> whose local port is `port`. Each line
// after the header: "sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout
// inode ...", the address as hex "0100007F:1F90". Sockets in TIME_WAIT have inode 0 and
// belong to nobody.
std::set<std::string> socket_inodes(const std::string& protocol, uint16_t port) {
  std::ifstream table("/proc/net/" + protocol);
  std::string line;
  std::getline(table, line);  // the header
  std::set<std::string> inodes;
  while (std::getline(table, line)) {
    std::istringstream fields(line);
    std::string slot, local, remote, state, queues, timer, retransmits, uid, timeout, inode;
    fields >> slot >> local >> remote >> state >> queues >> timer >> retransmits >> uid >>
        timeout >> inode;
    const size_t colon = local.find(':');
    if (!fields || colon == std::string::npos || inode == "0") continue;
    if (std::stoul(local.substr(colon + 1), nullptr, 16) == port) inodes.insert(inode);
  }
  return inodes;
}

}  // namespace

std::set<pid_t> socket_holders(const std::string& protocol, uint16_t port,
                               const std::vector<pid_t>& pids) {
  const std::set<std::string> inodes = socket_inodes(protocol, port);
  std::set<pid_t> holders;
  for (pid_t pid : pids) {
    std::error_code error;
    const std::filesystem::path fds = "/proc/" + std::to_string(pid) + "/fd";
    try {
      for (const auto& fd : std::filesystem::directory_iterator(fds, error)) {
        // "socket:[12345]"
        const std::string target = std::filesystem::read_symlink(fd.path(), error).string();
        if (error || !target.starts_with("socket:[") || !target.ends_with("]")) continue;
        if (inodes.contains(target.substr(8, target.size() - 9))) {
          holders.insert(pid);
          break;
        }
      }
    } catch (const std::filesystem::filesystem_error&) {
      // The process went while its descriptors were read: it holds nothing now.
    }
  }
  return holders;
}

}  // namespace vmft::integration
