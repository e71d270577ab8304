// The CPU-bound coremark guest on bare Unicorn (the baseline), on bare Unicorn with a block hook
// that only counts instructions (the ceiling of counting with hooks), under `vmft run`, `vmft
// record`, `vmft replay` of that record's log and a primary/backup pair, alternating; and the
// log rate of an idle guest with a 100 Hz timer, recorded once and replayed.

#include <cstdio>
#include <filesystem>
#include <regex>

#include "LogText.h"
#include "PairRuns.h"
#include "Sections.h"

namespace vmft::bench {

namespace {

namespace fs = std::filesystem;
using integration::CommandResult;
using integration::last_match;
using integration::last_match_group;

constexpr double kGoalRatio = 0.7;         // vmft run must keep at least this fraction of bare
                                           // Unicorn's speed
constexpr double kGoalRecordRatio = 0.97;  // recording must cost at most 3% of vmft run's speed
constexpr double kGoalIdleLogRate = 2500;  // bytes/s of log an idle guest with a 100 Hz tick may
                                           // produce
constexpr int kTickerTicks = 300;          // what bench/guests/ticker.c counts to (3 s at 100 Hz)

// A vmft command run to its end (at most kExitTimeout); one that does not end fails the run.
CommandResult run_vmft_to_end(const std::vector<std::string>& args, const std::string& what) {
  const integration::FinishedVmft finished = integration::run_vmft(args, kExitTimeout);
  const CommandResult result{
      finished.exit_code == -1 ? std::nullopt : std::optional<int>(finished.exit_code),
      finished.out, finished.err};
  if (result.exit_code != 0) fail_run(what, {output_of(what, result)});
  return result;
}

// Every run must print the same checksum as the first one.
void check_checksum(const std::string& what, const std::string& console,
                    const std::vector<Output>& shown, CpuFigures& figures) {
  const auto got = last_match_group(console, std::regex("(coremark checksum [0-9]*)"));
  if (!got) fail_run(what, shown);
  if (figures.checksum.empty()) {
    figures.checksum = *got;
  } else if (*got != figures.checksum) {
    fail("checksums differ: '" + figures.checksum + "' earlier, '" + *got + "' from the " + what +
         " run");
  }
}

// Every vmft run, record and replay of coremark must count the same instructions as the first.
void check_instructions(const std::string& what, const std::string& count, CpuFigures& figures) {
  if (figures.instructions.empty()) {
    figures.instructions = count;
  } else if (count != figures.instructions) {
    fail("the " + what + " run counted " + count + " instructions and an earlier one " +
         figures.instructions + ": the guest is deterministic");
  }
}

struct ExitLine {
  std::string instructions;
  double seconds = 0;
};

// The exit line of a vmft run or record (or a primary); a guest that did not exit with code 0
// fails the benchmark. E.g. "[...] [info] guest exited with code 0 after 123456789 instructions
// in 1.234 s".
ExitLine parse_exit_line(const std::string& what, const std::string& log,
                         const std::vector<Output>& shown) {
  const auto groups = last_match(
      log, std::regex("exited with code (-?[0-9]+) after ([0-9]+) instructions in ([0-9.]+) s"));
  if (!groups || (*groups)[0] != "0") fail_run(what, shown);
  return {(*groups)[1], number((*groups)[2], what)};
}

// The log size a vmft record reported, which must agree with the file's. E.g. "[...] [info] log
// /tmp/x/coremark.log: 12345 bytes, 3086 bytes/s".
double parse_log_line(const std::string& what, const std::string& log, const fs::path& file,
                      const std::vector<Output>& shown) {
  const std::string needle = "log " + file.string() + ": ";
  std::string line;
  for (const std::string& l : integration::text_lines(log)) {
    if (l.find(needle) != std::string::npos) line = l;
  }
  std::smatch match;
  if (!std::regex_search(line, match, std::regex(": ([0-9]+) bytes, [0-9]+ bytes/s"))) {
    fail_run(what, shown);
  }
  const uintmax_t reported = std::stoull(match[1].str());
  const uintmax_t size = fs::file_size(file);
  if (size != reported) {
    fail("the " + what + " run reported " + std::to_string(reported) + " bytes of log, but " +
         file.string() + " holds " + std::to_string(size));
  }
  return static_cast<double>(reported);
}

// The summary of a vmft replay. A replay that did not match fails the benchmark, and so does a
// log without its end record: the recorder exited normally, so it must have written one. E.g.
// "[...] [info] replay matched: 123 instructions, 9 records (...) checked in 1.234 s".
ExitLine parse_replay_line(const std::string& what, const std::string& log,
                           const std::vector<Output>& shown) {
  const auto groups = last_match(
      log, std::regex("replay matched: ([0-9]+) instructions, .* checked in ([0-9.]+) s"));
  if (!groups) fail_run(what, shown);
  if (log.find("ends without an end record") != std::string::npos) {
    fail_run(what + " (of a log with no end record)", shown);
  }
  return {(*groups)[0], number((*groups)[1], what)};
}

fs::path coremark_log() { return workdir() / "coremark.log"; }

void run_bare(const Programs& programs, CpuFigures& figures) {
  const std::string what = "bare";
  const CommandResult r =
      integration::run_command({programs.bare, programs.guest("coremark")}, kExitTimeout);
  const std::vector<Output> shown = {output_of(what, r)};
  if (r.exit_code != 0) fail_run(what, shown);
  check_checksum(what, r.out + r.err, shown, figures);
  const auto seconds = last_match_group(r.out, std::regex("^bare: ([0-9.]*) s$"));
  if (!seconds) fail_run(what, shown);
  figures.bare.push_back(number(*seconds, what));
}

// Bare Unicorn with a block hook that only counts: the ceiling of any exact instruction count on
// Unicorn's hooks. Its count must be vmft's.
void run_hooked(const Programs& programs, CpuFigures& figures) {
  const std::string what = "bare with a block hook";
  const CommandResult r = integration::run_command(
      {programs.bare, "--block-hook", programs.guest("coremark")}, kExitTimeout);
  const std::vector<Output> shown = {output_of(what, r)};
  if (r.exit_code != 0) fail_run(what, shown);
  check_checksum(what, r.out + r.err, shown, figures);
  const auto seconds = last_match_group(r.out, std::regex("^bare with a block hook: ([0-9.]*) s$"));
  const auto count = last_match_group(r.out, std::regex("^([0-9]+) instructions$"));
  if (!seconds || !count) fail_run(what, shown);
  check_instructions(what, *count, figures);
  figures.hooked.push_back(number(*seconds, what));
}

void run_run(const Programs& programs, CpuFigures& figures) {
  const std::string what = "vmft run";
  const CommandResult r = run_vmft_to_end({"run", programs.guest("coremark")}, what);
  const std::vector<Output> shown = {output_of(what, r)};
  check_checksum(what, r.out, shown, figures);
  const ExitLine exit = parse_exit_line(what, r.err, shown);
  check_instructions(what, exit.instructions, figures);
  figures.run.push_back(exit.seconds);
}

void run_record(const Programs& programs, CpuFigures& figures) {
  const std::string what = "vmft record";
  fs::remove(coremark_log());
  const CommandResult r = run_vmft_to_end(
      {"record", programs.guest("coremark"), "--log", coremark_log().string()}, what);
  const std::vector<Output> shown = {output_of(what, r)};
  check_checksum(what, r.out, shown, figures);
  const ExitLine exit = parse_exit_line(what, r.err, shown);
  check_instructions(what, exit.instructions, figures);
  figures.record_log_bytes.push_back(parse_log_line(what, r.err, coremark_log(), shown));
  figures.record.push_back(exit.seconds);
}

// Replays the log the last run_record wrote.
void run_replay(const Programs& programs, CpuFigures& figures) {
  const std::string what = "vmft replay";
  const CommandResult r = run_vmft_to_end(
      {"replay", programs.guest("coremark"), "--log", coremark_log().string()}, what);
  const std::vector<Output> shown = {output_of(what, r)};
  check_checksum(what, r.out, shown, figures);
  const ExitLine replay = parse_replay_line(what, r.err, shown);
  check_instructions(what, replay.instructions, figures);
  figures.replay.push_back(replay.seconds);
}

// Coremark under the pair: the primary's guest time, checked like vmft run's; its backup must
// reproduce the whole run.
void run_pair(const Programs& programs, CpuFigures& figures) {
  integration::PairSpec spec;
  spec.guest = programs.guest("coremark");
  spec.udp = spec.tcp = false;
  spec.name = kPairName;
  const auto pair = start_pair(spec, "vmft primary");
  auto& primary = pair->primary();
  auto& backup = pair->backup();
  if (finish_process(primary, "vmft primary", pair_outputs(primary, backup)) != 0) {
    fail_run("vmft primary", pair_outputs(primary, backup));
  }
  check_checksum("vmft primary", primary.console(), pair_outputs(primary, backup), figures);
  const ExitLine exit =
      parse_exit_line("vmft primary", primary.log(), pair_outputs(primary, backup));
  check_instructions("vmft primary", exit.instructions, figures);
  figures.pair.push_back(exit.seconds);
  // The guest exited, so the log ends with an end record the backup must have reached.
  const int code = finish_process(backup, "vmft backup", pair_outputs(primary, backup));
  if (code != 0) fail_run("vmft backup", pair_outputs(primary, backup));
  check_backup_end(code, std::stoull(exit.instructions), primary, backup);
}

}  // namespace

void run_coremark_round(const Programs& programs, CpuFigures& figures) {
  run_bare(programs, figures);
  run_hooked(programs, figures);
  run_run(programs, figures);
  run_record(programs, figures);
  run_replay(programs, figures);
  run_pair(programs, figures);
}

void run_ticker(const Programs& programs, CpuFigures& figures) {
  const fs::path log = workdir() / "ticker.log";
  const std::string ticks = "ticker: " + std::to_string(kTickerTicks) + " ticks";
  std::string what = "ticker record";
  CommandResult r =
      run_vmft_to_end({"record", programs.guest("ticker"), "--log", log.string()}, what);
  std::vector<Output> shown = {output_of(what, r)};
  if (r.out.find(ticks) == std::string::npos) fail_run(what, shown);
  const ExitLine exit = parse_exit_line(what, r.err, shown);
  figures.ticker_log_bytes = parse_log_line(what, r.err, log, shown);
  figures.ticker_seconds = exit.seconds;
  figures.ticker_instructions = exit.instructions;

  what = "ticker replay";
  r = run_vmft_to_end({"replay", programs.guest("ticker"), "--log", log.string()}, what);
  shown = {output_of(what, r)};
  if (r.out.find(ticks) == std::string::npos) fail_run(what, shown);
  const ExitLine replay = parse_replay_line(what, r.err, shown);
  if (replay.instructions != exit.instructions) {
    fail("the ticker record counted " + exit.instructions + " instructions and its replay " +
         replay.instructions);
  }
}

void print_cpu_summary(const CpuFigures& f) {
  const double insns = number(f.instructions, "the instruction count");
  const double bare = median(f.bare), hooked = median(f.hooked), run = median(f.run);
  const double record = median(f.record), replay = median(f.replay);
  const double log_bytes = median(f.record_log_bytes);
  const auto row = [&](const char* name, double s) {
    std::printf("%-8s %14.3f %10.1f\n", name, s, insns / s / 1e6);
  };
  std::printf("\n");
  std::printf("coremark checksum  %s (same in every run, replay and pair)\n",
              f.checksum.substr(std::string("coremark checksum ").size()).c_str());
  std::printf("instructions       %s (same in every run, replay and pair)\n",
              f.instructions.c_str());
  std::printf("record log         %lld bytes (median), %.0f bytes/s\n\n",
              static_cast<long long>(log_bytes), log_bytes / record);
  std::printf("%-8s %14s %10s\n", "", "median s", "MIPS");
  row("bare", bare);
  row("hooked", hooked);
  row("run", run);
  row("record", record);
  row("replay", replay);
  std::printf("\n");
  double ratio = bare / run;
  std::printf("run speed vs bare        %.3f   (goal >= %.2f: %s)\n", ratio, kGoalRatio,
              verdict(ratio >= kGoalRatio));
  std::printf("hooked speed vs bare     %.3f   (the ceiling of counting with a block hook)\n",
              bare / hooked);
  std::printf("run speed vs hooked      %.3f   (no goal)\n", hooked / run);
  ratio = run / record;
  std::printf("record speed vs run      %.3f   (goal >= %.2f: %s)\n", ratio, kGoalRecordRatio,
              verdict(ratio >= kGoalRecordRatio));
  std::printf("replay speed vs record   %.3f   (no goal)\n", record / replay);

  const double rate = f.ticker_log_bytes / f.ticker_seconds;
  std::printf("\nidle ticker, 100 Hz timer, recorded once and replayed (matched)\n");
  std::printf("instructions       %s in %.3f s\n", f.ticker_instructions.c_str(), f.ticker_seconds);
  std::printf("log                %lld bytes, %.1f bytes per tick\n",
              static_cast<long long>(f.ticker_log_bytes), f.ticker_log_bytes / kTickerTicks);
  std::printf("log rate           %.0f bytes/s = %.2f KB/s   (goal < %.1f KB/s: %s)\n", rate,
              rate / 1000, kGoalIdleLogRate / 1000, verdict(rate < kGoalIdleLogRate));
}

}  // namespace vmft::bench
