#include "vmft/host/PairConfig.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>

namespace vmft::host {

std::string side_id(const PairConfig& config, const char* role, uint16_t log_port) {
  if (!config.id.empty()) return config.id;
  char host[256] = "host";
  gethostname(host, sizeof host - 1);
  std::string id = fmt::format("{}@{}", role, host);
  if (log_port != 0) id += fmt::format(":{}", log_port);
  // Host names are printable and short, but an id has a limit of its own.
  std::replace_if(
      id.begin(), id.end(), [](char c) { return c <= ' ' || c >= 0x7f; }, '_');
  if (id.size() > 128) id.resize(128);
  return id;
}

}  // namespace vmft::host
