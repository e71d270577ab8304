#pragma once
// Reading figures out of what a process wrote for people: vmft's log lines (the sizes, times
// and instruction counts it reports) and the lines of the clients a benchmark runs. Lifecycle
// moments come from a side's events (VmftProcess::wait_for_event); only the figures a log
// carries are read from it.

#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "VmftProcess.h"

namespace vmft::integration {

/// `text` without the ANSI colour sequences spdlog puts around a level on a terminal.
std::string strip_colors(std::string_view text);

/// The lines of `text`, colours stripped, without their line feeds.
std::vector<std::string> text_lines(std::string_view text);

/// The groups (1..n) of the first match of `pattern` in the last line of `text` (colours
/// stripped) that holds one, as `grep -E pattern | tail -n 1` finds it; nullopt if no line does.
std::optional<std::vector<std::string>> last_match(std::string_view text,
                                                   const std::regex& pattern);
/// The first group of last_match(), for the common case of one figure.
std::optional<std::string> last_match_group(std::string_view text, const std::regex& pattern);

/// How many lines of `text` hold `needle`.
size_t count_lines_with(std::string_view text, std::string_view needle);

/// Wall-clock milliseconds since the epoch of a vmft log line's stamp, "YYYY-MM-DD
/// HH:MM:SS.mmm" in local time (cli/Logging.cc); nullopt if `stamp` is not one.
std::optional<double> log_stamp_ms(const std::string& stamp);
/// Wall-clock milliseconds since the epoch of an event's "time" (UTC, "YYYY-MM-DDTHH:MM:SS.mmmZ",
/// host/Events.cc); nullopt if it has none.
std::optional<double> event_time_ms(const Event& event);

/// Wall-clock milliseconds since the epoch now (CLOCK_REALTIME), comparable with the two above
/// and with vmft-incr-client's gap reports.
double wall_clock_ms();

}  // namespace vmft::integration
