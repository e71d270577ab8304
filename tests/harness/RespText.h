#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace vmft::integration {

/// A request as redis-cli sends it: a RESP array of bulk strings.
inline std::string resp_request(std::initializer_list<std::string_view> args) {
  std::string request = "*" + std::to_string(args.size()) + "\r\n";
  for (std::string_view arg : args) {
    request += "$" + std::to_string(arg.size()) + "\r\n";
    request += arg;
    request += "\r\n";
  }
  return request;
}

/// A RESP bulk string reply.
inline std::string resp_bulk(std::string_view value) {
  return "$" + std::to_string(value.size()) + "\r\n" + std::string(value) + "\r\n";
}

/// A RESP integer reply.
inline std::string resp_integer(long long value) { return ":" + std::to_string(value) + "\r\n"; }

}  // namespace vmft::integration
