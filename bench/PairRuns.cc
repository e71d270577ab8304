#include "PairRuns.h"

#include <regex>
#include <stdexcept>

#include "LogText.h"

namespace vmft::bench {

using integration::VmftProcess;

std::vector<Output> pair_outputs(const VmftProcess& primary, const VmftProcess& backup) {
  return {output_of("primary", primary), output_of("backup", backup)};
}

void check_backup_end(int exit_code, uint64_t primary_end, const VmftProcess& primary,
                      const VmftProcess& backup) {
  std::regex pattern;
  if (exit_code == 0) {
    pattern = std::regex("reproduced the primary's run to its end at instruction ([0-9]+)");
  } else if (exit_code == 4) {
    pattern =
        std::regex("the backup executed every record it received, up to instruction ([0-9]+)");
  } else {
    fail_run("vmft backup", pair_outputs(primary, backup));
  }
  const auto end = integration::last_match_group(backup.log(), pattern);
  if (!end) fail_run("vmft backup", pair_outputs(primary, backup));
  if (std::stoull(*end) != primary_end) {
    fail("the backup ended at instruction " + *end + ", but its primary at " +
             std::to_string(primary_end),
         "pair", pair_outputs(primary, backup));
  }
}

void stop_pair(const std::string& what, VmftProcess& primary, VmftProcess& backup) {
  if (stop_process(primary) != 0) fail_run(what + " primary", pair_outputs(primary, backup));
  const auto end = integration::last_match_group(primary.log(),
                                                 std::regex("stopped after ([0-9]+) instructions"));
  if (!end) fail_run(what + " primary", pair_outputs(primary, backup));
  const int code = finish_process(backup, what + " backup", pair_outputs(primary, backup));
  check_backup_end(code, std::stoull(*end), primary, backup);
}

void wait_for_console(VmftProcess& process, const std::string& line, const std::string& what,
                      std::vector<Output> shown) {
  if (process.wait_for_console(line, kStartTimeout)) return;
  shown.insert(shown.begin(), output_of(what, process));
  const bool exited = process.wait_for_exit(Duration(0)).has_value();
  fail_run(exited ? what
                  : what + " (no line '" + line + "' after " +
                        std::to_string(kStartTimeout.count() / 1000) + " s)",
           std::move(shown));
}

std::unique_ptr<integration::PairProcesses> start_pair(const integration::PairSpec& spec,
                                                       const std::string& what) {
  std::unique_ptr<integration::PairProcesses> pair;
  try {
    pair = std::make_unique<integration::PairProcesses>(spec);
    pair->pair();
  } catch (const std::runtime_error& e) {
    // The harness's message quotes both sides' logs.
    fail(what + ": " + e.what());
  }
  return pair;
}

double kill_primary(VmftProcess& primary, const std::string& what) {
  const double kill_ms = integration::wall_clock_ms();
  primary.kill();
  if (!primary.wait_for_exit(kStopTimeout)) fail(what + ": the primary outlived kill -9");
  return kill_ms;
}

}  // namespace vmft::bench
