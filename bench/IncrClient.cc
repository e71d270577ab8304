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

std::optional<Takeover> takeover_seen(const std::vector<Gap>& gaps, double kill_ms) {
  double before = 0;
  for (const Gap& gap : gaps) {
    if (gap.to_ms > kill_ms && gap.new_connection) return Takeover{gap.to_ms - kill_ms, before};
    if (!gap.new_connection && gap.ms > before) before = gap.ms;
  }
  return std::nullopt;
}

double longest_wait_after(const std::vector<Gap>& gaps, double kill_ms) {
  double longest = 0;
  for (const Gap& gap : gaps) {
    if (gap.to_ms > kill_ms && gap.ms > longest) longest = gap.ms;
  }
  return longest;
}

CounterCheck check_counter(int client_exit, const integration::Subprocess& client, uint16_t port,
                           const std::string& key, const std::string& what, const std::string& when,
                           const std::vector<Output>& shown) {
  if (client_exit != 0) {
    fail_run(what + " client (a wrong reply, or a value went backwards)", shown);
  }
  const auto highest = integration::last_match_group(
      client.stdout_text(), std::regex("highest value ([0-9]+), never backwards"));
  if (!highest) fail_run(what + " client", shown);
  const std::string value = counter_value({}, "127.0.0.1", port, key);
  if (!holds_at_least(value, *highest)) {
    fail(what + ": " + when + " the counter holds '" + value +
             "', but the client was acknowledged " + *highest,
         what, shown);
  }
  return {*highest, value};
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
