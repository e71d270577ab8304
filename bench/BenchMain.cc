// vmft-bench: measures vmft in one run against baselines from the same run, and prints each
// figure against its baseline or goal (README, "Quick start"; scripts/bench builds it and runs
// it). The sections, in order:
//  - coremark, a CPU-bound guest, on bare Unicorn, on bare Unicorn with a block hook that only
//    counts, under vmft run, record, replay of that record's log and a primary/backup pair on
//    127.0.0.1, alternating; then an idle guest with a 100 Hz timer recorded once and replayed;
//    then echo's UDP round trip under vmft run and the pair; then the counter guest's INCR
//    throughput under redis-benchmark (-c 50, and with -P 16) against redis-server, vmft run
//    and the pair (CpuSection.cc, NetSection.cc);
//  - as root, the frame NIC in a network lab (FrameSection.cc);
//  - failover over --kills kills -9 of the primary, and catch-up (FailoverSection.cc);
//  - join of a new backup to a primary that runs alone, for 16, 64 and 256 MiB guests
//    (JoinSection.cc).
// It is a benchmark, not a test: it exits 0 whether or not the goals are met, and 1 only when
// a run fails or a check does not hold (--help says which); 2 for a bad command line.

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

#include "Bench.h"
#include "Sections.h"

#ifndef VMFT_BINARY
#error "VMFT_BINARY must name the vmft executable (the harness's)"
#endif

namespace vmft::bench {

namespace {

namespace fs = std::filesystem;

// The programs and guests of the build `build_dir`, which must be the one whose vmft the
// harness runs; the sections' tools must be installed. Exits 1 saying what is missing.
Programs find_programs(const Options& o) {
  const fs::path bin = o.build_dir / "bin";
  const Programs programs{(bin / "vmft-bench-bare").string(),
                          (bin / "vmft-bench-echo-rtt").string(),
                          (bin / "vmft-incr-client").string(), o.build_dir / "guests"};
  std::error_code error;
  if (!fs::equivalent(bin / "vmft", VMFT_BINARY, error)) {
    std::fprintf(stderr, "bench: %s is not the vmft this vmft-bench runs (%s); run %s/vmft-bench\n",
                 (bin / "vmft").c_str(), VMFT_BINARY, bin.c_str());
    std::exit(1);
  }
  std::vector<std::string> needed = {programs.guest("counter")};
  std::vector<std::string> tools;
  if (o.others) {
    needed.insert(needed.end(), {programs.guest("coremark"), programs.guest("ticker"),
                                 programs.guest("echo"), programs.bare, programs.echo_rtt});
    tools.insert(tools.end(), {"redis-benchmark", "redis-cli", "redis-server"});
  }
  if (o.failover || o.join) {
    needed.push_back(programs.incr_client);
    tools.push_back("redis-cli");
  }
  if (o.frames) {
    needed.insert(needed.end(), {programs.guest("echo"), programs.echo_rtt, programs.incr_client});
    tools.insert(tools.end(), {"redis-benchmark", "redis-cli", "redis-server", "ip"});
  }
  if (o.failover) needed.push_back(programs.guest("torture_busy"));
  for (const std::string& file : needed) {
    if (!fs::exists(file)) {
      std::fprintf(stderr, "bench: %s is missing; build first (drop --no-build)\n", file.c_str());
      std::exit(1);
    }
  }
  for (const std::string& tool : tools) {
    const auto found =
        integration::run_shell("command -v " + integration::shell_quote(tool), kReplyTimeout);
    if (found.exit_code != 0) {
      std::fprintf(stderr,
                   "bench: %s is missing; install redis-tools and redis-server (or drop "
                   "--no-build)\n",
                   tool.c_str());
      std::exit(1);
    }
  }
  return programs;
}

// The coremark, ticker, echo and counter measurements, then their summaries.
void run_others(const Programs& programs, int runs) {
  std::printf(
      "bench: coremark, %d runs each, alternating bare, bare with a block hook, vmft run, vmft "
      "record, vmft replay and the primary/backup pair\n",
      runs);
  std::fflush(stdout);
  CpuFigures cpu;
  for (int i = 1; i <= runs; i++) {
    run_coremark_round(programs, cpu);
    std::printf(
        "bench: run %d/%d: bare %.3f s, hooked %.3f s, run %.3f s, record %.3f s, replay %.3f s, "
        "pair %.3f s\n",
        i, runs, cpu.bare.back(), cpu.hooked.back(), cpu.run.back(), cpu.record.back(),
        cpu.replay.back(), cpu.pair.back());
    std::fflush(stdout);
  }
  std::printf("bench: ticker, recorded once (300 ticks at 100 Hz), then replayed\n");
  std::fflush(stdout);
  run_ticker(programs, cpu);
  std::printf(
      "bench: echo over UDP, %d runs each, alternating vmft run and the pair, 5000 round trips "
      "of 64 bytes per run\n",
      runs);
  std::fflush(stdout);
  NetFigures net;
  for (int i = 1; i <= runs; i++) {
    run_echo_round(programs, net);
    std::printf("bench: run %d/%d: run p50 %s us p99 %s us, pair p50 %s us p99 %s us\n", i, runs,
                net.run_p50.back().c_str(), net.run_p99.back().c_str(), net.pair_p50.back().c_str(),
                net.pair_p99.back().c_str());
    std::fflush(stdout);
  }
  std::printf(
      "bench: counter over TCP, %d runs each, alternating redis-server (one, emptied before each "
      "load), vmft run and the pair, redis-benchmark -t incr -n %d %s, then -n %d %s\n",
      runs, counter_requests(1), counter_load(1).c_str(), counter_requests(kCounterPipeline),
      counter_load(kCounterPipeline).c_str());
  std::fflush(stdout);
  run_counter_rounds(programs, runs, net);
  print_cpu_summary(cpu);
  print_pair_summary(cpu, net);
  print_counter_summary(net);
  std::fflush(stdout);
}

// Removes the scratch directory, if it could be made.
void remove_workdir() {
  try {
    std::error_code ignored;
    fs::remove_all(workdir(), ignored);
  } catch (const Failure&) {  // it could not be made
  }
}

// Ctrl-C, SIGTERM: the processes the benchmark started die with it (the harness starts each
// with a parent-death signal); what outlives a process, its lab's namespaces and its scratch
// directory (with the harness's, made in it), is removed here, and it exits 130 or 143 as a
// shell's would.
void handle_stop_signals() {
  static sigset_t stops;
  sigemptyset(&stops);
  sigaddset(&stops, SIGINT);
  sigaddset(&stops, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stops, nullptr);  // every thread started later inherits the mask
  std::thread([] {
    int signo = 0;
    sigwait(&stops, &signo);
    std::fflush(stdout);
    const std::string lab = lab_to_remove();
    if (!lab.empty()) {
      integration::run_command({std::string(VMFT_SOURCE_DIR) + "/scripts/netlab", "down", lab},
                               kStopTimeout);
    }
    remove_workdir();
    std::_Exit(128 + signo);
  }).detach();
}

}  // namespace

int run(int argc, char** argv) {
  const Options options = parse_options(argc, argv);
  const Programs programs = find_programs(options);
  handle_stop_signals();
  int status = 0;
  try {
    // The harness makes its scratch directories (an arbiter's data, redis-server's) in TMPDIR:
    // inside the benchmark's own, they go with it however it ends.
    ::setenv("TMPDIR", workdir().c_str(), 1);
    if (options.others) run_others(programs, options.runs);
    if (options.frames) run_frame_section(programs, options);
    if (options.failover) run_failover_section(programs, options);
    if (options.join) run_join_section(programs, options);
  } catch (const Failure& failure) {
    std::fflush(stdout);
    for (const Output& output : failure.shown) {
      if (failure.shown.size() == 1) {
        std::fprintf(stderr, "bench: ---- output of the failed %s run ----\n",
                     failure.what_run.c_str());
      } else {
        std::fprintf(stderr, "bench: ---- %s of the failed %s run ----\n", output.name.c_str(),
                     failure.what_run.c_str());
      }
      std::fputs(output.text.c_str(), stderr);
    }
    std::fprintf(stderr, "bench: FAILED: %s\n", failure.what());
    status = 1;
  } catch (const std::exception& e) {  // a harness piece that could not start, say
    std::fflush(stdout);
    std::fprintf(stderr, "bench: FAILED: %s\n", e.what());
    status = 1;
  }
  remove_workdir();
  return status;
}

}  // namespace vmft::bench

int main(int argc, char** argv) { return vmft::bench::run(argc, argv); }
