#include "EtcdGateway.h"

#include <stdexcept>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::arbiter::detail {

namespace {

// A reply to a range or txn on one key is under 1 KiB (the key, a value of about 200 bytes,
// both in base64, and a header); one past 64 KiB is not an answer to what we asked.
constexpr size_t kMaxReplyBytes = 64 << 10;
// An error message from a member is quoted at most this long.
constexpr size_t kMaxQuotedBytes = 200;

void initialise_curl() {
  // Once per process, before the first handle; a function-local static is thread-safe.
  static const CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
  if (rc != CURLE_OK) {
    throw ArbiterUnavailable(std::string("cannot initialise libcurl: ") + curl_easy_strerror(rc));
  }
}

size_t append_reply(char* data, size_t size, size_t count, void* user) {
  auto& reply = *static_cast<std::string*>(user);
  if (reply.size() + size * count > kMaxReplyBytes) return 0;  // curl fails the transfer
  reply.append(data, size * count);
  return size * count;
}

std::string printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxQuotedBytes)) out += (c >= ' ' && c < 0x7f) ? c : '?';
  if (text.size() > kMaxQuotedBytes) out += "...";
  return out;
}

// What an error reply says: the gateway's {"error": ..., "message": ..., "code": ...}, or
// the start of whatever else came.
std::string error_message(const nlohmann::json& parsed, const std::string& reply) {
  if (parsed.is_object()) {
    const auto message = parsed.find("message");
    if (message != parsed.end() && message->is_string()) {
      return printable(message->get<std::string>());
    }
  }
  return "'" + printable(reply) + "'";
}

}  // namespace

EtcdGateway::EtcdGateway(std::vector<std::string> endpoints, std::chrono::milliseconds timeout)
    : endpoints_(std::move(endpoints)), timeout_(timeout), curl_(nullptr, curl_easy_cleanup) {
  initialise_curl();
  curl_.reset(curl_easy_init());
  if (!curl_) throw ArbiterUnavailable("cannot create a libcurl handle");
}

EtcdGateway::~EtcdGateway() = default;

nlohmann::json EtcdGateway::post(const std::string& path, const nlohmann::json& body) {
  const std::string text = body.dump();
  std::string failures;
  for (size_t i = 0; i < endpoints_.size(); ++i) {
    const size_t index = (current_ + i) % endpoints_.size();
    try {
      nlohmann::json reply = post_to(endpoints_[index], path, text);
      current_ = index;
      return reply;
    } catch (const std::runtime_error& e) {
      failures += (failures.empty() ? "" : "; ") + endpoints_[index] + ": " + e.what();
    }
  }
  throw ArbiterUnavailable("no etcd endpoint gave an answer (" + failures + ")");
}

nlohmann::json EtcdGateway::post_to(const std::string& endpoint, const std::string& path,
                                    const std::string& body) {
  CURL* curl = curl_.get();
  curl_easy_reset(curl);  // options only: the connection and DNS caches stay
  const std::unique_ptr<curl_slist, void (*)(curl_slist*)> headers(
      curl_slist_append(curl_slist_append(nullptr, "Content-Type: application/json"),
                        "Expect:"),  // no "100-continue" round trip
      curl_slist_free_all);
  const std::string url = "http://" + endpoint + path;
  std::string reply;
  char error[CURL_ERROR_SIZE] = "";
  const long timeout_ms = static_cast<long>(timeout_.count());
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, static_cast<long>(body.size()));
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers.get());
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append_reply);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, error);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, timeout_ms);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);  // no SIGALRM for timeouts: other threads run
  // etcd members are reached directly; an http_proxy meant for the web must not intercept.
  curl_easy_setopt(curl, CURLOPT_NOPROXY, "*");
  const CURLcode rc = curl_easy_perform(curl);
  if (rc != CURLE_OK) {
    if (rc == CURLE_WRITE_ERROR) {
      throw std::runtime_error("sent a reply longer than " + std::to_string(kMaxReplyBytes) +
                               " bytes");
    }
    throw std::runtime_error(error[0] != '\0' ? error : curl_easy_strerror(rc));
  }
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  const nlohmann::json parsed = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (status != 200) {
    throw std::runtime_error("answered HTTP " + std::to_string(status) + ": " +
                             error_message(parsed, reply));
  }
  if (!parsed.is_object()) {
    throw std::runtime_error("answered '" + printable(reply) + "', not a JSON object");
  }
  return parsed;
}

}  // namespace vmft::arbiter::detail
