#include "Protocol.h"

#include <charconv>
#include <vector>

namespace vmft::arbiter::detail {

namespace {

// An ERR message quotes at most this much, so a reply stays far below a client's line limit.
constexpr size_t kMaxErrorMessageBytes = 200;

std::vector<std::string_view> split_fields(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t')) ++i;
    const size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

// A printable rendering of request text for error messages.
std::string quoted(std::string_view text) {
  constexpr size_t kMaxQuoted = 40;
  std::string out;
  for (char c : text.substr(0, kMaxQuoted)) out += (c >= ' ' && c < 0x7f) ? c : '?';
  if (text.size() > kMaxQuoted) out += "...";
  return "'" + out + "'";
}

// Decimal digits only (no sign, no spaces), within uint64_t.
std::optional<uint64_t> parse_number(std::string_view text) {
  uint64_t value = 0;
  if (text.empty() || text.front() < '0' || text.front() > '9') return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

uint64_t parse_epoch_field(std::string_view text) {
  const auto value = parse_number(text);
  if (!value) {
    throw std::invalid_argument("epoch " + quoted(text) +
                                " is not a decimal number from 0 to 18446744073709551615");
  }
  return *value;
}

std::string state_fields(const ArbiterState& state) {
  return std::to_string(state.epoch) + " " + std::string(mode_name(state.mode)) + " " +
         (state.holder.empty() ? "-" : state.holder);
}

[[noreturn]] void unexpected_reply(std::string_view line, std::string_view request) {
  throw ArbiterUnavailable("unexpected reply " + quoted(line) + " to " + std::string(request));
}

// The reply's fields; ErrorReply for ERR.
std::vector<std::string_view> reply_fields(std::string_view line) {
  if (line == "ERR" || line.starts_with("ERR ")) {
    std::string_view message = line.substr(3);
    while (!message.empty() && message.front() == ' ') message.remove_prefix(1);
    throw ErrorReply(std::string(message));
  }
  return split_fields(line);
}

// "<epoch> <mode> <holder|->" at fields[first..first+2].
ArbiterState parse_state_fields(const std::vector<std::string_view>& fields, size_t first,
                                std::string_view line, std::string_view request) {
  if (fields.size() != first + 3) unexpected_reply(line, request);
  const auto epoch = parse_number(fields[first]);
  const auto mode = parse_mode(fields[first + 1]);
  if (!epoch || !mode) unexpected_reply(line, request);
  const std::string_view holder = fields[first + 2];
  const bool nobody = holder == "-";
  const bool held = *mode == Mode::kPaired || *mode == Mode::kAlone;
  if (held == nobody || (*mode == Mode::kNone) != (*epoch == 0)) {
    unexpected_reply(line, request);
  }
  return {*epoch, *mode, nobody ? std::string() : std::string(holder)};
}

}  // namespace

Request parse_request(std::string_view line) {
  const auto fields = split_fields(line);
  if (fields.empty()) throw std::invalid_argument("empty request");
  Request request;
  const std::string_view op = fields[0];
  if (op == "READ") {
    if (fields.size() != 2) throw std::invalid_argument("usage: READ <pair>");
    request.op = Request::Op::kRead;
  } else if (op == "REGISTER") {
    if (fields.size() != 4) {
      throw std::invalid_argument("usage: REGISTER <pair> <expected_epoch> <id>");
    }
    request.op = Request::Op::kRegister;
  } else if (op == "TAS") {
    if (fields.size() != 4) throw std::invalid_argument("usage: TAS <pair> <epoch> <id>");
    request.op = Request::Op::kTestAndSet;
  } else if (op == "RELEASE") {
    if (fields.size() != 4) throw std::invalid_argument("usage: RELEASE <pair> <epoch> <id>");
    request.op = Request::Op::kRelease;
  } else if (op == "LIST") {
    if (fields.size() != 1) throw std::invalid_argument("usage: LIST");
    request.op = Request::Op::kList;
    return request;
  } else {
    throw std::invalid_argument("unknown request " + quoted(op) +
                                " (expected READ, REGISTER, TAS, RELEASE or LIST)");
  }
  check_pair_name(fields[1]);
  request.pair = fields[1];
  if (request.op != Request::Op::kRead) {
    request.epoch = parse_epoch_field(fields[2]);
    check_holder_id(fields[3]);
    request.id = fields[3];
  }
  return request;
}

std::string format_request(const Request& request) {
  switch (request.op) {
    case Request::Op::kRead: return "READ " + request.pair;
    case Request::Op::kRegister:
      return "REGISTER " + request.pair + " " + std::to_string(request.epoch) + " " + request.id;
    case Request::Op::kTestAndSet:
      return "TAS " + request.pair + " " + std::to_string(request.epoch) + " " + request.id;
    case Request::Op::kRelease:
      return "RELEASE " + request.pair + " " + std::to_string(request.epoch) + " " + request.id;
    case Request::Op::kList: return "LIST";
  }
  return {};
}

std::string format_reply(const ArbiterState& state) { return "STATE " + state_fields(state); }

std::string format_reply(const RegisterResult& result) {
  if (result.ok) return "OK " + std::to_string(result.state.epoch);
  return "REFUSED " + state_fields(result.state);
}

std::string format_reply(const TasResult& result) {
  if (result.won) return "WON " + std::to_string(result.state.epoch);
  return "LOST " + state_fields(result.state);
}

std::string format_reply(const ReleaseResult& result) {
  if (result.ok) return "OK " + std::to_string(result.state.epoch);
  return "REFUSED " + state_fields(result.state);
}

std::string format_reply(const Arbiter::PairList& list) {
  std::string line = "PAIRS " + std::to_string(list.total);
  for (size_t i = 0; i < list.names.size() && i < kMaxListedPairs; ++i) line += " " + list.names[i];
  return line;
}

std::string format_error(std::string_view message) {
  std::string line = "ERR ";
  for (char c : message.substr(0, kMaxErrorMessageBytes)) line += (c >= ' ' && c < 0x7f) ? c : '?';
  return line;
}

ArbiterState parse_state_reply(std::string_view line) {
  const auto fields = reply_fields(line);
  if (fields.empty() || fields[0] != "STATE") unexpected_reply(line, "READ");
  return parse_state_fields(fields, 1, line, "READ");
}

RegisterResult parse_register_reply(std::string_view line, const std::string& id) {
  const auto fields = reply_fields(line);
  if (fields.size() == 2 && fields[0] == "OK") {
    const auto epoch = parse_number(fields[1]);
    if (!epoch || *epoch == 0) unexpected_reply(line, "REGISTER");
    return {true, {*epoch, Mode::kPaired, id}};
  }
  if (fields.empty() || fields[0] != "REFUSED") unexpected_reply(line, "REGISTER");
  return {false, parse_state_fields(fields, 1, line, "REGISTER")};
}

TasResult parse_tas_reply(std::string_view line, const std::string& id) {
  const auto fields = reply_fields(line);
  if (fields.size() == 2 && fields[0] == "WON") {
    const auto epoch = parse_number(fields[1]);
    if (!epoch || *epoch == 0) unexpected_reply(line, "TAS");
    return {true, {*epoch, Mode::kAlone, id}};
  }
  if (fields.empty() || fields[0] != "LOST") unexpected_reply(line, "TAS");
  return {false, parse_state_fields(fields, 1, line, "TAS")};
}

ReleaseResult parse_release_reply(std::string_view line, uint64_t epoch) {
  const auto fields = reply_fields(line);
  if (fields.size() == 2 && fields[0] == "OK") {
    if (parse_number(fields[1]) != epoch) unexpected_reply(line, "RELEASE");
    return {true, {epoch, Mode::kReleased, {}}};
  }
  if (fields.empty() || fields[0] != "REFUSED") unexpected_reply(line, "RELEASE");
  return {false, parse_state_fields(fields, 1, line, "RELEASE")};
}

Arbiter::PairList parse_list_reply(std::string_view line) {
  const auto fields = reply_fields(line);
  if (fields.size() < 2 || fields[0] != "PAIRS") unexpected_reply(line, "LIST");
  const auto total = parse_number(fields[1]);
  if (!total || fields.size() - 2 > *total || fields.size() - 2 > kMaxListedPairs) {
    unexpected_reply(line, "LIST");
  }
  Arbiter::PairList list;
  list.total = *total;
  for (size_t i = 2; i < fields.size(); ++i) {
    try {
      check_pair_name(fields[i]);
    } catch (const std::invalid_argument&) {
      unexpected_reply(line, "LIST");
    }
    list.names.emplace_back(fields[i]);
  }
  return list;
}

std::string format_challenge(const auth::Nonce& nonce) {
  return "CHALLENGE " + auth::to_hex(nonce);
}

auth::Nonce parse_challenge(std::string_view line) {
  const auto fields = split_fields(line);
  auth::Nonce nonce{};
  try {
    if (fields.size() != 2 || fields[0] != "CHALLENGE") throw std::invalid_argument("");
    const std::string bytes = auth::from_hex(fields[1], nonce.size());
    std::copy(bytes.begin(), bytes.end(), nonce.begin());
  } catch (const std::invalid_argument&) {
    throw ArbiterUnavailable("expected CHALLENGE <64 hex digits>, got " + quoted(line));
  }
  return nonce;
}

bool is_auth_request(std::string_view line) {
  const auto fields = split_fields(line);
  return !fields.empty() && fields[0] == "AUTH";
}

AuthRequest parse_auth_request(std::string_view line) {
  const auto fields = split_fields(line);
  if (fields.size() != 3 || fields[0] != "AUTH") {
    throw std::invalid_argument("usage: AUTH <hex mac> <hex nonce>");
  }
  AuthRequest request;
  request.mac = auth::from_hex(fields[1], auth::kMacBytes);
  const std::string nonce = auth::from_hex(fields[2], auth::kNonceBytes);
  std::copy(nonce.begin(), nonce.end(), request.nonce.begin());
  return request;
}

std::string format_auth_request(const auth::Mac& mac, const auth::Nonce& nonce) {
  return "AUTH " + auth::to_hex(mac) + " " + auth::to_hex(nonce);
}

auth::Mac client_proof(std::string_view secret, const auth::Nonce& challenge) {
  return auth::hmac(secret, {auth::bytes_of("vmft-arbiter"), challenge});
}

auth::Mac server_proof(std::string_view secret, const auth::Nonce& client_nonce) {
  return auth::hmac(secret, {auth::bytes_of("vmft-arbiter-server"), client_nonce});
}

}  // namespace vmft::arbiter::detail
