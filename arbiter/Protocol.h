#pragma once
// The arbiter's wire format, both directions, in one place: newline-terminated text lines,
// one request and one reply each (docs/arbiter-protocol.md). Lines here exclude the newline.

#include <cstdint>
#include <string>
#include <string_view>

#include "vmft/arbiter/Arbiter.h"
#include "vmft/auth/Secret.h"

namespace vmft::arbiter::detail {

struct Request {
  enum class Op { kRead, kRegister, kTestAndSet, kRelease, kList };
  Op op = Op::kRead;
  std::string pair;    ///< all but LIST
  uint64_t epoch = 0;  ///< REGISTER: the expected epoch; TAS and RELEASE: the epoch
  std::string id;      ///< REGISTER, TAS and RELEASE
};

/// The most pair names a LIST reply holds: with names of up to 64 characters, a line of at
/// most kMaxListReplyBytes.
inline constexpr size_t kMaxListedPairs = 10000;
inline constexpr size_t kMaxListReplyBytes = 16 + kMaxListedPairs * 65;

/// Parses "READ <pair>", "REGISTER <pair> <expected_epoch> <id>", "TAS <pair> <epoch> <id>",
/// "RELEASE <pair> <epoch> <id>" or "LIST" (fields separated by spaces or tabs, a trailing CR
/// ignored). Throws std::invalid_argument saying what is wrong, including bad pair names and
/// ids.
Request parse_request(std::string_view line);
std::string format_request(const Request& request);

std::string format_reply(const ArbiterState& state);      ///< STATE <epoch> <mode> <holder|->
std::string format_reply(const RegisterResult& result);   ///< OK <epoch> | REFUSED <state>
std::string format_reply(const TasResult& result);        ///< WON <epoch> | LOST <state>
std::string format_reply(const ReleaseResult& result);    ///< OK <epoch> | REFUSED <state>
std::string format_reply(const Arbiter::PairList& list);  ///< PAIRS <total> <name>...
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
ReleaseResult parse_release_reply(std::string_view line, uint64_t epoch);
Arbiter::PairList parse_list_reply(std::string_view line);

/// With a secret: the server's first line, "CHALLENGE <hex nonce>", the client's answer,
/// "AUTH <hex mac> <hex client nonce>", and the server's to that, "OK <hex mac>" (or ERR).
/// The client MACs "vmft-arbiter" and the server's nonce; the server "vmft-arbiter-server" and
/// the client's nonce, so that a client is not answered by an impostor either.
std::string format_challenge(const auth::Nonce& nonce);
/// Throws ArbiterUnavailable unless `line` is a challenge.
auth::Nonce parse_challenge(std::string_view line);
struct AuthRequest {
  std::string mac;  ///< the bytes, as many as the client sent
  auth::Nonce nonce{};
};
/// Whether `line` is an AUTH request (that is, starts with the word AUTH).
bool is_auth_request(std::string_view line);
/// Throws std::invalid_argument unless `line` is a well-formed AUTH request.
AuthRequest parse_auth_request(std::string_view line);
std::string format_auth_request(const auth::Mac& mac, const auth::Nonce& nonce);
auth::Mac client_proof(std::string_view secret, const auth::Nonce& challenge);
auth::Mac server_proof(std::string_view secret, const auth::Nonce& client_nonce);

}  // namespace vmft::arbiter::detail
