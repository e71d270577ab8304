#pragma once
// etcd's JSON gateway (POST /v3/...) over libcurl, with failover between the members listed.

#include <curl/curl.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace vmft::arbiter::detail {

/// Sends requests to one etcd cluster through any of its members. Not thread-safe: the
/// caller serialises calls.
class EtcdGateway {
 public:
  /// `endpoints` are HOST:PORT of members' client URLs (plain http), already checked.
  EtcdGateway(std::vector<std::string> endpoints, std::chrono::milliseconds timeout);
  ~EtcdGateway();
  EtcdGateway(const EtcdGateway&) = delete;
  EtcdGateway& operator=(const EtcdGateway&) = delete;

  /// POSTs `body` to `path` (e.g. "/v3/kv/txn") and returns the parsed reply of the first
  /// member that answers with HTTP 200 and JSON, starting with the one that answered last.
  /// A member that cannot be reached, does not answer within the timeout, answers an error
  /// (no leader, say) or something that is not JSON, is passed over for the next. Throws
  /// ArbiterUnavailable, saying what each member did, if none answers.
  ///
  /// A request that timed out may still have taken effect, and the next member gets it
  /// again: callers send only requests that are safe to repeat (a txn guarded by a revision).
  nlohmann::json post(const std::string& path, const nlohmann::json& body);

 private:
  // One attempt at one member: its reply, or throws std::runtime_error saying what failed.
  nlohmann::json post_to(const std::string& endpoint, const std::string& path,
                         const std::string& body);

  std::vector<std::string> endpoints_;
  std::chrono::milliseconds timeout_;
  size_t current_ = 0;  // the member that answered last, tried first
  // Kept between calls, so that its connection to the member is reused.
  std::unique_ptr<CURL, void (*)(CURL*)> curl_;
};

}  // namespace vmft::arbiter::detail
