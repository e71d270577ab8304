#pragma once
// The arbiter's wire format, both directions, in one place: newline-terminated text lines,
// one request and one reply each (docs/arbiter-protocol.md). Lines here exclude the newline.

#include <cstdint>
#include <string>
#include <string_view>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::arbiter::detail {

struct Request {
  enum class Op { kRead, kRegister, kTestAndSet };
  Op op = Op::kRead;
  std::string pair;
  uint64_t epoch = 0;  ///< REGISTER: the expected epoch; TAS: the epoch
  std::string id;      ///< REGISTER and TAS
};

/// Parses "READ <pair>", "REGISTER <pair> <expected_epoch> <id>" or "TAS <pair> <epoch> <id>"
/// (fields separated by spaces or tabs, a trailing CR ignored). Throws std::invalid_argument
/// saying what is wrong, including bad pair names and ids.
Request parse_request(std::string_view line);
std::string format_request(const Request& request);

std::string format_reply(const ArbiterState& state);     ///< STATE <epoch> <mode> <holder|->
std::string format_reply(const RegisterResult& result);  ///< OK <epoch> | REFUSED <state>
std::string format_reply(const TasResult& result);       ///< WON <epoch> | LOST <state>
/// ERR <message>, with control characters replaced and the length bounded, so that the reply
/// stays one line whatever the message quotes from the request.
std::string format_error(std::string_view message);

/// An ERR reply; what() is the arbiter's message.
class ErrorReply : public ArbiterUnavailable {
 public:
  using ArbiterUnavailable::ArbiterUnavailable;
};

/// The client's side. Each throws ErrorReply for an ERR reply, and ArbiterUnavailable
/// describing a reply that does not fit the request. `id` is the
/// requester's, which the short success replies (OK, WON) leave implicit.
ArbiterState parse_state_reply(std::string_view line);
RegisterResult parse_register_reply(std::string_view line, const std::string& id);
TasResult parse_tas_reply(std::string_view line, const std::string& id);

}  // namespace vmft::arbiter::detail
