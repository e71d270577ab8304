#include "vmft/arbiter/Arbiter.h"

namespace vmft::arbiter {

namespace {

// A pair name becomes a file name, so it stays short and free of separators.
constexpr size_t kMaxPairNameBytes = 64;
// A holder id is whatever names a VM to its operator (host name, address, role); 128 is ample
// and keeps every request line far below the server's line limit.
constexpr size_t kMaxHolderIdBytes = 128;

bool is_pair_name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-';
}

bool is_printable_non_space(char c) { return c > ' ' && c < 0x7f; }

}  // namespace

std::string_view mode_name(Mode mode) {
  switch (mode) {
    case Mode::kNone: return "none";
    case Mode::kPaired: return "paired";
    case Mode::kAlone: return "alone";
    case Mode::kReleased: return "released";
  }
  return "unknown";
}

std::optional<Mode> parse_mode(std::string_view name) {
  for (Mode mode : {Mode::kNone, Mode::kPaired, Mode::kAlone, Mode::kReleased}) {
    if (mode_name(mode) == name) return mode;
  }
  return std::nullopt;
}

std::string describe(const ArbiterState& state) {
  if (state.mode == Mode::kNone) return "never registered";
  if (state.mode == Mode::kReleased) return "epoch " + std::to_string(state.epoch) + ", released";
  return "epoch " + std::to_string(state.epoch) + ", " + std::string(mode_name(state.mode)) +
         ", held by " + state.holder;
}

void check_pair_name(std::string_view pair) {
  if (pair.empty()) throw std::invalid_argument("pair name is empty");
  if (pair.size() > kMaxPairNameBytes) {
    throw std::invalid_argument("pair name is " + std::to_string(pair.size()) +
                                " characters long (at most " + std::to_string(kMaxPairNameBytes) +
                                ")");
  }
  for (char c : pair) {
    if (!is_pair_name_char(c)) {
      throw std::invalid_argument("pair name '" + std::string(pair) +
                                  "' has a character outside [A-Za-z0-9._-]");
    }
  }
}

void check_holder_id(std::string_view id) {
  if (id.empty()) throw std::invalid_argument("id is empty");
  if (id.size() > kMaxHolderIdBytes) {
    throw std::invalid_argument("id is " + std::to_string(id.size()) +
                                " characters long (at most " + std::to_string(kMaxHolderIdBytes) +
                                ")");
  }
  for (char c : id) {
    if (!is_printable_non_space(c)) {
      throw std::invalid_argument("id has a space, control or non-ASCII character");
    }
  }
  if (id == "-") throw std::invalid_argument("id '-' is reserved (it means nobody)");
}

HostPort split_host_port(const std::string& text, const std::string& what) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw std::invalid_argument(what + " '" + text + "' must be HOST:PORT");
  }
  HostPort split{text.substr(0, colon), text.substr(colon + 1)};
  const bool digits = !split.port.empty() && split.port.size() <= 5 &&
                      split.port.find_first_not_of("0123456789") == std::string::npos;
  if (!digits || std::stoul(split.port) == 0 || std::stoul(split.port) > 65535) {
    throw std::invalid_argument(what + " '" + text +
                                "': the port must be a number from 1 to 65535");
  }
  return split;
}

}  // namespace vmft::arbiter
