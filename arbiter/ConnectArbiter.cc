#include "vmft/arbiter/ConnectArbiter.h"

#include <stdexcept>

#include "vmft/arbiter/ArbiterClient.h"
#include "vmft/arbiter/EtcdArbiter.h"

namespace vmft::arbiter {

namespace {

constexpr std::string_view kEtcdScheme = "etcd://";
constexpr const char* kForms =
    "HOST:PORT for `vmft arbiter`, etcd://HOST:PORT[,HOST:PORT...] for etcd";

}  // namespace

ArbiterAddress parse_arbiter_address(const std::string& text) {
  const size_t scheme_end = text.find("://");
  if (scheme_end == std::string::npos) {
    split_host_port(text, "arbiter address");
    return {ArbiterAddress::Kind::kBuiltIn, {text}};
  }
  if (!text.starts_with(kEtcdScheme)) {
    throw std::invalid_argument("arbiter address '" + text + "': unknown scheme '" +
                                text.substr(0, scheme_end + 3) + "' (" + kForms + ")");
  }
  const std::string list = text.substr(kEtcdScheme.size());
  if (list.empty()) {
    throw std::invalid_argument("arbiter address '" + text + "' lists no etcd endpoint (" + kForms +
                                ")");
  }
  ArbiterAddress address{ArbiterAddress::Kind::kEtcd, {}};
  size_t start = 0;
  for (;;) {
    const size_t comma = list.find(',', start);
    const std::string endpoint = list.substr(start, comma - start);
    if (endpoint.empty()) {
      throw std::invalid_argument("arbiter address '" + text + "' has an empty etcd endpoint");
    }
    split_host_port(endpoint, "etcd endpoint");
    address.endpoints.push_back(endpoint);
    if (comma == std::string::npos) return address;
    start = comma + 1;
  }
}

std::unique_ptr<Arbiter> connect_arbiter(const std::string& text, const std::string& secret) {
  ArbiterAddress address = parse_arbiter_address(text);
  if (address.kind == ArbiterAddress::Kind::kEtcd) {
    return std::make_unique<EtcdArbiter>(std::move(address.endpoints));
  }
  return std::make_unique<ArbiterClient>(address.endpoints.front(), ArbiterClient::kDefaultTimeout,
                                         secret);
}

}  // namespace vmft::arbiter
