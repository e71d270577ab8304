#include "vmft/arbiter/EtcdArbiter.h"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "Base64.h"
#include "EtcdGateway.h"
#include "StateFile.h"
#include "vmft/arbiter/Rules.h"

namespace vmft::arbiter {

namespace {

using nlohmann::json;

// How many times a decision is taken again because another client changed the pair between
// our read and our write. Each retry means someone else's decision was stored; the two sides
// of a pair (and an operator) make a handful at most, so more than this is not a race.
constexpr int kMaxRounds = 16;

// A pair's state as etcd holds it.
struct Stored {
  ArbiterState state;         // {} when the key does not exist
  uint64_t mod_revision = 0;  // of the key; 0 when it does not exist
};

std::string pair_text(const std::string& pair) { return "pair '" + pair + "'"; }

[[noreturn]] void unexpected(const std::string& what, const json& reply) {
  std::string text = reply.dump(-1, ' ', false, json::error_handler_t::replace);
  if (text.size() > 200) text = text.substr(0, 200) + "...";
  throw ArbiterUnavailable("etcd sent " + what + ": " + text);
}

// An int64 field of a reply: the gateway writes them as strings of digits, and leaves out
// those that are zero.
uint64_t int_field(const json& object, const char* name, const json& reply) {
  const auto it = object.find(name);
  if (it == object.end()) return 0;
  if (it->is_number_unsigned()) return it->get<uint64_t>();
  if (it->is_string()) {
    const auto& digits = it->get_ref<const std::string&>();
    if (!digits.empty() && digits.size() <= 19 &&
        digits.find_first_not_of("0123456789") == std::string::npos) {
      return std::stoull(digits);
    }
  }
  unexpected(std::string("a bad '") + name + "'", reply);
}

// The key's state from a range reply (or the range response inside a txn reply).
Stored stored_state(const std::string& pair, const json& range, const json& reply) {
  const auto kvs = range.find("kvs");
  if (kvs == range.end()) return {};  // no such key: the pair was never registered
  if (!kvs->is_array() || kvs->size() > 1) unexpected("a bad 'kvs' for one key", reply);
  if (kvs->empty()) return {};
  const json& kv = kvs->front();
  const std::string key = EtcdArbiter::key(pair);
  if (!kv.is_object() || !kv.contains("key") || !kv["key"].is_string() ||
      detail::base64_decode(kv["key"].get<std::string>()) != key) {
    unexpected("a key other than " + key, reply);
  }
  Stored stored;
  stored.mod_revision = int_field(kv, "mod_revision", reply);
  if (stored.mod_revision == 0) unexpected("a key without a revision", reply);
  const auto value = kv.contains("value") && kv["value"].is_string()
                         ? detail::base64_decode(kv["value"].get<std::string>())
                         : std::optional<std::string>("");
  const auto state = value ? detail::decode_state(*value) : std::nullopt;
  if (!state) {
    // As with a corrupt state file: never taken for a fresh pair.
    throw ArbiterUnavailable(pair_text(pair) + ": etcd key " + key +
                             " does not hold a valid arbiter state (version " +
                             std::to_string(detail::kStateFileVersion) +
                             "); it is left as it is for an operator to inspect");
  }
  stored.state = *state;
  return stored;
}

Stored fetch(detail::EtcdGateway& gateway, const std::string& pair) {
  json request = json::object();
  request["key"] = detail::base64_encode(EtcdArbiter::key(pair));
  const json reply = gateway.post("/v3/kv/range", request);  // linearizable by default
  return stored_state(pair, reply, reply);
}

// A txn that puts `next` under `key` (base64) if the key is still as `seen`, and otherwise
// reads it.
json guarded_put(const std::string& key, const Stored& seen, const ArbiterState& next) {
  json compare = json::object();
  compare["key"] = key;
  compare["result"] = "EQUAL";
  if (seen.mod_revision == 0) {
    compare["target"] = "CREATE";
    compare["create_revision"] = "0";  // no such key
  } else {
    compare["target"] = "MOD";
    compare["mod_revision"] = std::to_string(seen.mod_revision);
  }
  json put = json::object();
  put["key"] = key;
  put["value"] = detail::base64_encode(detail::encode_state(next));
  json range = json::object();
  range["key"] = key;
  json txn = json::object();
  txn["compare"] = json::array({compare});
  txn["success"] = json::array({json{{"request_put", put}}});
  txn["failure"] = json::array({json{{"request_range", range}}});
  return txn;
}

// Stores `next` if the key is still as `seen`; otherwise sets `seen` to what it is now.
// Returns whether it stored.
bool store_if_unchanged(detail::EtcdGateway& gateway, const std::string& pair, Stored& seen,
                        const ArbiterState& next) {
  const std::string key = detail::base64_encode(EtcdArbiter::key(pair));
  const json reply = gateway.post("/v3/kv/txn", guarded_put(key, seen, next));
  const auto succeeded = reply.find("succeeded");  // left out when false
  if (succeeded != reply.end() && !succeeded->is_boolean()) unexpected("a bad 'succeeded'", reply);
  if (succeeded != reply.end() && succeeded->get<bool>()) return true;
  const auto responses = reply.find("responses");
  if (responses == reply.end() || !responses->is_array() || responses->size() != 1 ||
      !(*responses)[0].is_object() || !(*responses)[0].contains("response_range") ||
      !(*responses)[0]["response_range"].is_object()) {
    unexpected("a failed txn without the key's current state", reply);
  }
  seen = stored_state(pair, (*responses)[0]["response_range"], reply);
  return false;
}

// Decides with `decide` (state -> Decision) on the pair's state in etcd until the decision
// changes nothing or its transaction succeeds.
template <typename Decide>
auto decide_in_etcd(detail::EtcdGateway& gateway, const std::string& pair, const Decide& decide) {
  Stored stored = fetch(gateway, pair);
  for (int round = 0; round < kMaxRounds; ++round) {
    const auto decision = decide(stored.state);
    if (!decision.next || store_if_unchanged(gateway, pair, stored, *decision.next)) {
      return decision.result;
    }
  }
  throw ArbiterUnavailable(pair_text(pair) + " changed in etcd at each of " +
                           std::to_string(kMaxRounds) + " attempts to decide");
}

}  // namespace

std::string EtcdArbiter::key(const std::string& pair) { return "vmft/arbiter/" + pair; }

EtcdArbiter::EtcdArbiter(std::vector<std::string> endpoints, std::chrono::milliseconds timeout) {
  if (endpoints.empty()) throw std::invalid_argument("no etcd endpoint given");
  for (const std::string& endpoint : endpoints) split_host_port(endpoint, "etcd endpoint");
  gateway_ = std::make_unique<detail::EtcdGateway>(std::move(endpoints), timeout);
}

EtcdArbiter::~EtcdArbiter() = default;

ArbiterState EtcdArbiter::read(const std::string& pair) {
  check_pair_name(pair);
  std::lock_guard lock(mutex_);
  return fetch(*gateway_, pair).state;
}

RegisterResult EtcdArbiter::register_epoch(const std::string& pair, uint64_t expected_epoch,
                                           const std::string& id) {
  check_pair_name(pair);
  check_holder_id(id);
  std::lock_guard lock(mutex_);
  const RegisterResult result = decide_in_etcd(*gateway_, pair, [&](const ArbiterState& state) {
    return decide_register(pair, state, expected_epoch, id);
  });
  // A txn that timed out at one member may have been carried out before the next one saw it.
  return count_repeated_registration(result, expected_epoch, id);
}

TasResult EtcdArbiter::test_and_set(const std::string& pair, uint64_t epoch,
                                    const std::string& id) {
  check_pair_name(pair);
  check_holder_id(id);
  std::lock_guard lock(mutex_);
  return decide_in_etcd(*gateway_, pair, [&](const ArbiterState& state) {
    return decide_test_and_set(pair, state, epoch, id);
  });
}

ReleaseResult EtcdArbiter::release(const std::string& pair, uint64_t epoch, const std::string& id) {
  check_pair_name(pair);
  check_holder_id(id);
  std::lock_guard lock(mutex_);
  return decide_in_etcd(
      *gateway_, pair, [&](const ArbiterState& state) { return decide_release(state, epoch, id); });
}

Arbiter::PairList EtcdArbiter::list(size_t max) {
  const std::string prefix = key("");
  std::string end = prefix;
  ++end.back();  // every key that starts with the prefix sorts below it
  json request = json::object();
  request["key"] = detail::base64_encode(prefix);
  request["range_end"] = detail::base64_encode(end);
  request["keys_only"] = true;
  // etcd sorts by key; a limit of 0 would be none.
  request["limit"] = std::to_string(std::max<size_t>(max, 1));
  std::lock_guard lock(mutex_);
  const json reply = gateway_->post("/v3/kv/range", request);
  PairList list;
  list.total = int_field(reply, "count", reply);
  const auto kvs = reply.find("kvs");
  if (kvs == reply.end()) return list;
  if (!kvs->is_array()) unexpected("a bad 'kvs'", reply);
  for (const json& kv : *kvs) {
    const auto name = kv.is_object() && kv.contains("key") && kv["key"].is_string()
                          ? detail::base64_decode(kv["key"].get<std::string>())
                          : std::nullopt;
    if (!name || !name->starts_with(prefix)) unexpected("a key outside " + prefix, reply);
    list.names.push_back(name->substr(prefix.size()));
  }
  if (list.names.size() > max) list.names.resize(max);
  return list;
}

}  // namespace vmft::arbiter
