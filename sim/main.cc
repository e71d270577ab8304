// vmft-sim: runs the simulation of whole pairs (PairScenario) for a range of seeds, prints
// every failing seed with what it violated and the end of its trace, and a summary. The same
// seed fails again, bit for bit: `vmft-sim --seeds N-N` replays one.
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/sim/PairScenario.h"

namespace {

using vmft::sim::PairOutcome;
using vmft::sim::PairScenario;

struct SeedRange {
  uint64_t first = 1;
  uint64_t last = 100;
};

// "A-B" or "N".
SeedRange parse_seeds(const std::string& text) {
  SeedRange range;
  const size_t dash = text.find('-');
  try {
    size_t used = 0;
    range.first = std::stoull(text.substr(0, dash), &used);
    if (used != (dash == std::string::npos ? text.size() : dash)) throw std::invalid_argument(text);
    range.last = range.first;
    if (dash != std::string::npos) {
      range.last = std::stoull(text.substr(dash + 1), &used);
      if (used != text.size() - dash - 1) throw std::invalid_argument(text);
    }
  } catch (const std::exception&) {
    throw CLI::ValidationError("--seeds", "wants A-B or N (decimal seeds), not '" + text + "'");
  }
  if (range.last < range.first) {
    throw CLI::ValidationError("--seeds", "the range " + text + " is empty");
  }
  return range;
}

double ms(vmft::sim::Time t) { return t.count() / 1e6; }

// "the backup paused at 212.000 ms for 260.000 ms, after 1 brief fault, ...": what a seed did.
std::string describe_faults(const PairOutcome& out) {
  std::string text = fmt::format("{} at {:.3f} ms for {:.3f} ms", vmft::sim::fault_name(out.fault),
                                 ms(out.fault_at), ms(out.fault_length));
  if (out.brief_before > 0) text += fmt::format(", after {} brief fault(s)", out.brief_before);
  if (out.primary_isolated && out.backup_isolated) {
    text += ", both sides cut off the arbiter too";
  } else if (out.primary_isolated) {
    text += ", the primary cut off the arbiter too";
  } else if (out.backup_isolated) {
    text += ", the backup cut off the arbiter too";
  }
  if (out.arbiter_outage) text += ", the arbiter down";
  if (out.disk_full) text += ", the arbiter's disk full";
  return text;
}

double percentile(std::vector<double> values, double p) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  return values[static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5)];
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "vmft-sim: whole pairs in a deterministic simulation, one run per seed (docs/simulation.md)"};
  std::string seeds = "1-100";
  std::string guest = std::string(VMFT_GUEST_DIR) + "/counter_small.elf";
  bool without_output_rule = false;
  bool without_asking = false;
  bool without_joins = false;
  bool verbose = false;
  bool twice = false;
  bool errors_are_wins = false;
  app.add_option("--seeds", seeds, "the seeds to run, A-B or N")->capture_default_str();
  app.add_option("--guest", guest, "the counter guest's ELF file")->capture_default_str();
  app.add_flag("--without-output-rule", without_output_rule,
               "let the primary's replies leave before the backup has the log (a broken pair, to "
               "see the checks catch it)");
  app.add_flag("--primary-goes-on-without-asking", without_asking,
               "give the primary's live side no arbiter and say every lost backup left, so that "
               "it goes on alone without asking (a broken pair: two sides live in a partition)");
  app.add_flag("--arbiter-errors-are-wins", errors_are_wins,
               "let both sides take the arbiter's `ERR cannot persist ...` to a test-and-set for "
               "a win (a broken arbiter client: a side goes on alone that the arbiter never "
               "gave the pair)");
  app.add_flag("--without-joins", without_joins,
               "no backup joins the side left alone (each seed runs as before joins were "
               "simulated)");
  app.add_flag("--verbose", verbose, "show what the pair logs, and every seed's outcome");
  app.add_flag("--twice", twice,
               "run each seed twice, and fail one whose runs differ (their traces' digests)");
  SeedRange range;
  try {
    app.parse(argc, argv);
    range = parse_seeds(seeds);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  // A side that loses says so at error level: an outcome the checks judge, not a failure.
  spdlog::set_level(verbose ? spdlog::level::info : spdlog::level::off);

  PairScenario scenario;
  try {
    scenario.counter = vmft::hypervisor::load_elf_file(guest, VMFT_RAM_BASE, scenario.ram_size);
  } catch (const std::exception& e) {
    std::cerr << "vmft-sim: " << e.what() << "\n";
    return 1;
  }
  scenario.without_output_rule = without_output_rule;
  scenario.primary_goes_on_without_asking = without_asking;
  scenario.errors_are_wins = errors_are_wins;
  scenario.joins = !without_joins;

  const auto started = std::chrono::steady_clock::now();
  uint64_t runs = 0, failed = 0, outages = 0, disks_full = 0, with_brief_before = 0;
  std::map<vmft::sim::Fault, uint64_t> faults;
  std::map<vmft::sim::JoinFault, uint64_t> joins;
  uint64_t joined_whole = 0, joiners_live = 0;
  std::vector<double> to_live_ms;  // from the fault (a long partition's or pause's start) on
  for (uint64_t seed = range.first;; seed++) {
    PairOutcome out = vmft::sim::run_pair_scenario(scenario, seed);
    if (twice) {
      const PairOutcome again = vmft::sim::run_pair_scenario(scenario, seed);
      if (again.trace_digest != out.trace_digest) {
        out.violations.push_back(
            fmt::format("the seed did not replay bit for bit: trace digest {:016x}, then {:016x}",
                        out.trace_digest, again.trace_digest));
      }
    }
    ++runs;
    ++faults[out.fault];
    outages += out.arbiter_outage;
    disks_full += out.disk_full;
    with_brief_before += out.brief_before > 0;
    const auto live = std::max(out.went_live_at, out.alone_at);
    if (live.count() > 0) to_live_ms.push_back(ms(live - out.fault_at));
    if (out.joined) {
      ++joins[out.join_fault];
      joined_whole += out.join_epoch != 0;
      joiners_live += out.joiner_live_at.count() > 0;
    }
    const std::string join =
        !out.joined
            ? std::string()
            : fmt::format("; a backup joined at {:.3f} ms{}, then {}{}", ms(out.join_at),
                          out.join_epoch ? fmt::format(" (epoch {} registered at {:.3f} ms)",
                                                       out.join_epoch, ms(out.join_registered_at))
                                         : std::string(),
                          vmft::sim::join_fault_name(out.join_fault),
                          out.join_fault_at.count() > 0
                              ? fmt::format(" at {:.3f} ms", ms(out.join_fault_at))
                              : std::string());
    if (!out.violations.empty()) {
      ++failed;
      std::cout << "sim: seed " << seed << " FAILED (" << describe_faults(out) << join << "):\n";
      for (const std::string& v : out.violations) std::cout << "  " << v << "\n";
      std::cout << "its trace ends:\n"
                << out.trace_tail << "replay it with --seeds " << seed << "\n";
    } else if (verbose) {
      const std::string decided =
          out.went_live_at.count() > 0 ? fmt::format("the backup went live {:.3f} ms after it",
                                                     ms(out.went_live_at - out.fault_at))
          : out.alone_at.count() > 0   ? fmt::format("the primary went on alone {:.3f} ms after it",
                                                     ms(out.alone_at - out.fault_at))
                                       : std::string("the pair stayed paired");
      std::printf(
          "sim: seed %llu: %s; %s; %llu INCRs answered before the failover, %llu after%s; trace "
          "digest %016llx\n",
          static_cast<unsigned long long>(seed), describe_faults(out).c_str(), decided.c_str(),
          static_cast<unsigned long long>(out.answered_before),
          static_cast<unsigned long long>(out.answered_after), join.c_str(),
          static_cast<unsigned long long>(out.trace_digest));
    }
    if (seed == range.last) break;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  using vmft::sim::Fault;
  using vmft::sim::JoinFault;
  std::printf(
      "sim: %llu seeds (%llu-%llu), %llu passed, %llu failed, in %.1f s (%.1f seeds/s); last "
      "faults: the primary %llu killed, %llu host lost, %llu paused; the backup %llu killed, "
      "%llu host lost, %llu paused; %llu partitioned; %llu after brief faults; the arbiter was "
      "down in %llu, its disk full in %llu; fault to a side live (simulated): p50 %.3f ms, max "
      "%.3f ms; joins: %llu (%llu made the pair whole again; then %llu nothing, %llu the joiner "
      "died mid-join, %llu the new primary killed, %llu its host lost, %llu partitioned; %llu "
      "joiners went live)\n",
      static_cast<unsigned long long>(runs), static_cast<unsigned long long>(range.first),
      static_cast<unsigned long long>(range.last), static_cast<unsigned long long>(runs - failed),
      static_cast<unsigned long long>(failed), seconds, static_cast<double>(runs) / seconds,
      static_cast<unsigned long long>(faults[Fault::kKill]),
      static_cast<unsigned long long>(faults[Fault::kHostLost]),
      static_cast<unsigned long long>(faults[Fault::kPause]),
      static_cast<unsigned long long>(faults[Fault::kBackupKill]),
      static_cast<unsigned long long>(faults[Fault::kBackupHostLost]),
      static_cast<unsigned long long>(faults[Fault::kBackupPause]),
      static_cast<unsigned long long>(faults[Fault::kPartition]),
      static_cast<unsigned long long>(with_brief_before), static_cast<unsigned long long>(outages),
      static_cast<unsigned long long>(disks_full), percentile(to_live_ms, 0.5),
      percentile(to_live_ms, 1.0),
      static_cast<unsigned long long>(joins[JoinFault::kNone] + joins[JoinFault::kJoinerDies] +
                                      joins[JoinFault::kKill] + joins[JoinFault::kHostLost] +
                                      joins[JoinFault::kPartition]),
      static_cast<unsigned long long>(joined_whole),
      static_cast<unsigned long long>(joins[JoinFault::kNone]),
      static_cast<unsigned long long>(joins[JoinFault::kJoinerDies]),
      static_cast<unsigned long long>(joins[JoinFault::kKill]),
      static_cast<unsigned long long>(joins[JoinFault::kHostLost]),
      static_cast<unsigned long long>(joins[JoinFault::kPartition]),
      static_cast<unsigned long long>(joiners_live));
  return failed == 0 ? 0 : 1;
}
