#include "IncrClient.h"

#include <regex>

#include "LogText.h"
#include "RedisServer.h"

namespace vmft::bench {

std::vector<Gap> gaps_of(const std::string& output) {
  static const std::regex gap(
      "^incr-client: gap ([0-9.]+) ms without a reply, from ([0-9.]+) to ([0-9.]+) ms since the "
      "epoch");
  std::vector<Gap> gaps;
  for (const std::string& line : integration::text_lines(output)) {
    std::smatch match;
    if (!std::regex_search(line, match, gap)) continue;
    gaps.push_back({std::stod(match[1].str()), std::stod(match[2].str()), std::stod(match[3].str()),
                    line.ends_with("on a new connection")});
  }
  return gaps;
}

std::unique_ptr<integration::Subprocess> start_incr_client(const Programs& programs,
                                                           const std::vector<std::string>& wrapper,
                                                           const std::vector<std::string>& args,
                                                           const std::string& what,
                                                           const std::vector<Output>& shown) {
  auto client = std::make_unique<integration::Subprocess>(
      wrapped(wrapper, wrapped({programs.incr_client}, args)));
  static const std::regex acknowledged(": [1-9][0-9]* INCRs acknowledged");
  const bool flowing = client->wait_for_stdout(
      [](const std::string& out) { return std::regex_search(out, acknowledged); }, kStartTimeout);
  if (!flowing) {
    std::vector<Output> all = {output_of("client", *client)};
    all.insert(all.end(), shown.begin(), shown.end());
    fail_run(what, all);
  }
  return client;
}

std::string counter_value(const std::vector<std::string>& wrapper, const std::string& host,
                          uint16_t port, const std::string& key) {
  std::string value = integration::redis_cli(wrapper, host, port, {"GET", key}, kReplyTimeout).out;
  if (value.ends_with('\n')) value.pop_back();
  return value;
}

bool holds_at_least(const std::string& value, const std::string& least) {
  const auto is_number = [](const std::string& text) {
    return !text.empty() && text.size() < 19 &&
           text.find_first_not_of("0123456789") == std::string::npos;
  };
  return is_number(value) && is_number(least) && std::stoull(value) >= std::stoull(least);
}

}  // namespace vmft::bench
