// The arbiter's text protocol: request lines through the server's answer_request and its AUTH
// parser, and the same lines through the client's reply and CHALLENGE parsers.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "FuzzSupport.h"
#include "FuzzTargets.h"
#include "Protocol.h"
#include "vmft/arbiter/ArbiterServer.h"

namespace vmft::fuzz {

namespace {

using namespace vmft::arbiter;

// Decides just enough for every reply to occur; the rules themselves are not under test.
class MemoryArbiter final : public Arbiter {
 public:
  ArbiterState read(const std::string& pair) override { return states_[pair]; }
  RegisterResult register_epoch(const std::string& pair, uint64_t expected_epoch,
                                const std::string& id) override {
    ArbiterState& state = states_[pair];
    if (state.epoch != expected_epoch) return {false, state};
    if (state.epoch == UINT64_MAX) throw ArbiterUnavailable("no epoch after the last");
    state = {state.epoch + 1, Mode::kPaired, id};
    return {true, state};
  }
  TasResult test_and_set(const std::string& pair, uint64_t epoch, const std::string& id) override {
    ArbiterState& state = states_[pair];
    if (epoch > state.epoch || state.mode == Mode::kNone) throw ArbiterUnavailable("unknown epoch");
    if (epoch < state.epoch || state.mode == Mode::kAlone) return {state.holder == id, state};
    state = {epoch, Mode::kAlone, id};
    return {true, state};
  }
  ReleaseResult release(const std::string& pair, uint64_t epoch, const std::string& id) override {
    ArbiterState& state = states_[pair];
    if (state.epoch != epoch || state.mode == Mode::kNone || state.holder != id) {
      return {false, state};
    }
    state = {epoch, Mode::kReleased, {}};
    return {true, state};
  }
  PairList list(size_t max) override {
    PairList list{{}, states_.size()};
    for (const auto& [name, state] : states_) {
      if (list.names.size() == max) break;
      list.names.push_back(name);
    }
    return list;
  }

 private:
  std::map<std::string, ArbiterState> states_;
};

bool one_printable_line(std::string_view reply) {
  if (reply.empty()) return false;
  for (char c : reply) {
    if (c < ' ' || c >= 0x7f) return false;
  }
  return true;
}

void expect_request_round_trip(std::string_view line) {
  detail::Request request;
  try {
    request = detail::parse_request(line);
  } catch (const std::invalid_argument&) {
    return;
  }
  const detail::Request again = detail::parse_request(detail::format_request(request));
  expect(again.op == request.op && again.pair == request.pair && again.epoch == request.epoch &&
             again.id == request.id,
         "a request changed in a format-parse round trip");
}

// What `parse` returns, or nullopt if it refused the reply.
template <typename Parse>
auto accepted(Parse parse) -> std::optional<decltype(parse())> {
  try {
    return parse();
  } catch (const ArbiterUnavailable&) {
    return std::nullopt;
  }
}

// A reply the client accepts means what the server would have meant by it.
void parse_as_replies(std::string_view line) {
  if (const auto state = accepted([&] { return detail::parse_state_reply(line); })) {
    expect(detail::parse_state_reply(detail::format_reply(*state)) == *state,
           "a STATE reply changed in a round trip");
  }
  if (const auto result = accepted([&] { return detail::parse_register_reply(line, "fuzz-id"); })) {
    const RegisterResult again =
        detail::parse_register_reply(detail::format_reply(*result), "fuzz-id");
    expect(again.ok == result->ok && again.state == result->state,
           "a REGISTER reply changed in a round trip");
  }
  if (const auto result = accepted([&] { return detail::parse_tas_reply(line, "fuzz-id"); })) {
    const TasResult again = detail::parse_tas_reply(detail::format_reply(*result), "fuzz-id");
    expect(again.won == result->won && again.state == result->state,
           "a TAS reply changed in a round trip");
  }
  if (const auto result = accepted([&] { return detail::parse_release_reply(line, 7); })) {
    const ReleaseResult again = detail::parse_release_reply(detail::format_reply(*result), 7);
    expect(again.ok == result->ok && again.state == result->state,
           "a RELEASE reply changed in a round trip");
  }
  if (const auto list = accepted([&] { return detail::parse_list_reply(line); })) {
    const Arbiter::PairList again = detail::parse_list_reply(detail::format_reply(*list));
    expect(again.total == list->total && again.names == list->names,
           "a LIST reply changed in a round trip");
  }
}

// With a secret, the server reads an AUTH line before any request, and the client a
// CHALLENGE line before it sends one: whatever they accept survives a round trip.
void parse_as_handshake(std::string_view line) {
  if (detail::is_auth_request(line)) {
    try {
      const detail::AuthRequest request = detail::parse_auth_request(line);
      expect(request.mac.size() == auth::kMacBytes, "an AUTH MAC of the wrong size");
      auth::Mac mac;
      std::copy(request.mac.begin(), request.mac.end(), mac.begin());
      const detail::AuthRequest again =
          detail::parse_auth_request(detail::format_auth_request(mac, request.nonce));
      expect(again.mac == request.mac && again.nonce == request.nonce,
             "an AUTH request changed in a round trip");
      (void)auth::mac_matches(auth::bytes_of(request.mac),
                              detail::client_proof(kFuzzSecret, kFuzzPrimaryNonce));
    } catch (const std::invalid_argument&) {
    }
  }
  // Only a line with the word can be one, and refusing any other is a throw, the costliest
  // thing done with a line here.
  if (line.find("CHALLENGE") == std::string_view::npos) return;
  if (const auto nonce = accepted([&] { return detail::parse_challenge(line); })) {
    expect(detail::parse_challenge(detail::format_challenge(*nonce)) == *nonce,
           "a CHALLENGE changed in a round trip");
  }
}

}  // namespace

void arbiter_request(Bytes data) {
  quiet_logs();
  MemoryArbiter arbiter;
  std::string_view rest(reinterpret_cast<const char*>(data.data()), data.size());
  while (!rest.empty()) {
    const size_t end = rest.find('\n');
    const std::string_view line = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    expect(one_printable_line(answer_request(arbiter, line)),
           "an arbiter reply is empty or not one printable line");
    expect_request_round_trip(line);
    parse_as_replies(line);
    parse_as_handshake(line);
  }
}

}  // namespace vmft::fuzz
