#include "LogText.h"

#include <cctype>
#include <chrono>
#include <cstdio>
#include <ctime>

namespace vmft::integration {

std::string strip_colors(std::string_view text) {
  std::string plain;
  plain.reserve(text.size());
  for (size_t i = 0; i < text.size(); i++) {
    if (text[i] == '\x1b' && i + 1 < text.size() && text[i + 1] == '[') {
      // ESC [ digits and semicolons, ended by 'm'.
      size_t end = i + 2;
      while (end < text.size() &&
             (std::isdigit(static_cast<unsigned char>(text[end])) || text[end] == ';')) {
        end++;
      }
      if (end < text.size() && text[end] == 'm') {
        i = end;
        continue;
      }
    }
    plain += text[i];
  }
  return plain;
}

std::vector<std::string> text_lines(std::string_view text) {
  const std::string plain = strip_colors(text);
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < plain.size()) {
    size_t end = plain.find('\n', start);
    if (end == std::string::npos) end = plain.size();
    lines.push_back(plain.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::optional<std::vector<std::string>> last_match(std::string_view text,
                                                   const std::regex& pattern) {
  const std::vector<std::string> lines = text_lines(text);
  for (auto line = lines.rbegin(); line != lines.rend(); ++line) {
    std::smatch match;
    if (!std::regex_search(*line, match, pattern)) continue;
    std::vector<std::string> groups;
    for (size_t i = 1; i < match.size(); i++) groups.push_back(match[i].str());
    return groups;
  }
  return std::nullopt;
}

std::optional<std::string> last_match_group(std::string_view text, const std::regex& pattern) {
  const auto groups = last_match(text, pattern);
  if (!groups || groups->empty()) return std::nullopt;
  return groups->front();
}

size_t count_lines_with(std::string_view text, std::string_view needle) {
  size_t count = 0;
  for (const std::string& line : text_lines(text)) {
    if (line.find(needle) != std::string::npos) count++;
  }
  return count;
}

namespace {

// Parses "YYYY-MM-DD?HH:MM:SS.mmm" (any one character between date and time) into `tm` and
// the milliseconds; false if `text` does not start with one.
bool parse_stamp(const std::string& text, std::tm& tm, int& millis) {
  char separator = 0;
  tm = {};
  millis = 0;
  const int fields =
      std::sscanf(text.c_str(), "%4d-%2d-%2d%c%2d:%2d:%2d.%3d", &tm.tm_year, &tm.tm_mon,
                  &tm.tm_mday, &separator, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &millis);
  if (fields != 8) return false;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return true;
}

}  // namespace

std::optional<double> log_stamp_ms(const std::string& stamp) {
  std::tm tm;
  int millis = 0;
  if (!parse_stamp(stamp, tm, millis)) return std::nullopt;
  tm.tm_isdst = -1;  // local time, whatever its daylight saving then
  const std::time_t seconds = std::mktime(&tm);
  if (seconds == static_cast<std::time_t>(-1)) return std::nullopt;
  return static_cast<double>(seconds) * 1000 + millis;
}

std::optional<double> event_time_ms(const Event& event) {
  if (!event.contains("time") || !event.at("time").is_string()) return std::nullopt;
  std::tm tm;
  int millis = 0;
  if (!parse_stamp(event.at("time").get<std::string>(), tm, millis)) return std::nullopt;
  return static_cast<double>(::timegm(&tm)) * 1000 + millis;
}

double wall_clock_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace vmft::integration
