// Join: for guests of 16, 64 and 256 MiB, a counter pair under a client's INCRs whose backup is
// killed with `kill -9`, and --joins times a new backup joins the primary that runs alone (and
// is killed in turn); the pause of the primary's guest and the time from the joiner's
// connection to the pair being fault tolerant again, both figures of the primary's log.

#include <sys/socket.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <regex>
#include <thread>

#include "ArbiterProcess.h"
#include "FreePort.h"
#include "IncrClient.h"
#include "LogText.h"
#include "PairRuns.h"
#include "Sections.h"

namespace vmft::bench {

namespace {

using integration::VmftProcess;

const char* const kJoinSizes[] = {"16M", "64M", "256M"};  // guest RAM (--mem) of the pairs
constexpr double kGoalJoinPauseMs = 50;                   // the longest the guest may pause for
                                                          // a join ...
constexpr const char* kGoalJoinPauseSize = "64M";         // ... of a guest of this size
// For a join to complete: the pre-copy of 256 MiB on a loaded machine takes a while.
constexpr Duration kJoinTimeout{120000};
// How long the client runs against the whole pair between joins: a length of load, not a wait.
constexpr std::chrono::milliseconds kJoinLoadBetween{300};

struct JoinFigures {
  std::map<std::string, std::vector<double>> pause_ms;       // per size: the guest's pauses
  std::map<std::string, std::vector<double>> redundancy_ms;  // per size: joiner's connection to
                                                             // the new epoch
};

// The pair of one guest size, whose backup the joins replace.
struct JoinPair {
  std::string name;
  std::string size;
  std::string guest;
  std::vector<std::string> common;  // both sides' options
  std::unique_ptr<integration::PairProcesses> pair;
  std::unique_ptr<VmftProcess> joiner;  // the current backup, once one has joined
  std::unique_ptr<integration::Subprocess> client;

  VmftProcess& primary() { return pair->primary(); }
  VmftProcess& backup() { return joiner ? *joiner : pair->backup(); }
  std::vector<Output> outputs() {
    std::vector<Output> all = pair_outputs(primary(), backup());
    if (client) all.push_back(output_of("client", *client));
    return all;
  }
};

// What the primary logged for its last join, after byte `from` of its log, or a failure of the
// run `what`.
std::string join_figure(JoinPair& p, const std::string& pattern, size_t from,
                        const std::string& what) {
  const std::string log = p.primary().log();
  const auto figure =
      integration::last_match_group(log.substr(std::min(from, log.size())), std::regex(pattern));
  if (!figure) fail_run(what + " primary (no pause line)", p.outputs());
  return *figure;
}

// The primary's `joined` event, its `from`-th or later, within kJoinTimeout; nullopt if it did
// not come, or the primary or the joiner exited first. A joiner's death shows nowhere in the
// primary's events, so the wait for them is cut in slices that look at both processes too.
std::optional<integration::Event> wait_for_join(JoinPair& p, size_t from) {
  constexpr Duration kSlice{100};
  const auto deadline = std::chrono::steady_clock::now() + kJoinTimeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (auto joined =
            p.primary().wait_for_event("joined", nlohmann::json::object(), from, kSlice)) {
      return joined;
    }
    if (p.joiner->wait_for_exit(Duration(0)) || p.primary().wait_for_exit(Duration(0))) break;
  }
  return std::nullopt;
}

// One join: kill -9 of the current backup, so that the primary runs alone once the arbiter has
// let it go on, then a new backup that joins it, which becomes the backup; a join that does not
// complete within kJoinTimeout fails the benchmark.
void join_once(JoinPair& p, int i, int joins, JoinFigures& figures) {
  const std::string what = "join " + p.size + " " + std::to_string(i);
  size_t events = p.primary().events().size();
  p.backup().kill();
  if (!p.backup().wait_for_exit(kStopTimeout)) fail(what + ": the backup outlived kill -9");
  if (!p.primary().wait_for_event("alone", nlohmann::json::object(), events, kStartTimeout)) {
    fail_run(what + " primary (it did not go on alone)", p.outputs());
  }

  events = p.primary().events().size();
  const size_t log_from = p.primary().log().size();
  std::vector<std::string> options = p.common;
  options.insert(options.end(),
                 {"--join", "--log-connect", "127.0.0.1:" + std::to_string(p.pair->log_port()),
                  "--log-listen", "127.0.0.1:0"});
  p.joiner = p.pair->start_backup(p.guest, options);
  const auto joined = wait_for_join(p, events);
  if (!joined) fail_run(what + " primary (the join did not complete)", p.outputs());
  if (p.joiner->wait_for_exit(Duration(0))) {
    fail_run(what + " backup (it exited after joining)", p.outputs());
  }
  // The primary logs the figures of the join as it completes it.
  const std::string redundant = "is fault tolerant again at epoch";
  if (!p.primary().wait_for_log(redundant, log_from, kStartTimeout)) {
    fail_run(what + " primary", p.outputs());
  }
  // e.g. "a backup joins pair 'x': 9.1 MiB of RAM sent in 45 ms while the guest ran, then the
  // guest paused 9.8 ms to send 41 changed pages and its state at instruction 123"
  const std::string joins_pair = "a backup joins pair '" + p.name + "': ";
  const std::string precopy =
      join_figure(p, joins_pair + "([0-9.]+ MiB of RAM sent in [0-9]+ ms) while", log_from, what);
  const std::string pause =
      join_figure(p, joins_pair + ".* the guest paused ([0-9.]+ ms to send [0-9]+ changed pages)",
                  log_from, what);
  // e.g. "pair 'x' is fault tolerant again at epoch 2: the backup that joined runs in step, 250
  // ms after it connected"
  const std::string redundancy = join_figure(
      p, "pair '" + p.name + "' " + redundant + " [0-9]+: .* runs in step, ([0-9]+) ms after",
      log_from, what);
  figures.pause_ms[p.size].push_back(number(pause.substr(0, pause.find(" ms")), what));
  figures.redundancy_ms[p.size].push_back(number(redundancy, what));
  std::printf(
      "bench: join %s %d/%d: %s, then a pause of %s; fault tolerant again at epoch %s, %s ms "
      "after the joiner connected\n",
      p.size.c_str(), i, joins, precopy.c_str(), pause.c_str(),
      joined->value("epoch", nlohmann::json()).dump().c_str(), redundancy.c_str());
  std::fflush(stdout);
}

// A fresh pair of the counter guest with --mem `size` under a client's INCRs, its backup killed
// and replaced by a joiner --joins times. The client must see no wrong reply and no value go
// backwards, the counter must end at least at the highest value acknowledged, and the last
// joiner must reproduce the primary's run to its end.
void run_join_size(const Programs& programs, const integration::ArbiterProcess& arbiter,
                   const std::string& size, int joins, JoinFigures& figures) {
  const std::string what = "join " + size;
  JoinPair p;
  p.name = "join-" + size;
  p.size = size;
  p.guest = programs.guest("counter");
  const uint16_t port = integration::unused_port(SOCK_STREAM);
  p.common = {"--name",
              p.name,
              "--mem",
              size,
              "--tcp",
              "127.0.0.1:" + std::to_string(port),
              "--arbiter",
              arbiter.address(),
              "--status-interval",
              "0"};
  integration::PairSpec spec;
  spec.guest = p.guest;
  spec.udp = spec.tcp = false;
  spec.name = p.name;
  spec.options = {p.common.begin() + 2, p.common.end()};  // PairProcesses adds --name
  spec.backup_side_options = {"--log-listen", "127.0.0.1:0"};
  spec.ready_line = "counter: ready";
  p.pair = start_pair(spec, what + " primary");
  if (!p.primary().wait_for_event("registered", kStartTimeout)) {
    fail_run(what + " primary", p.outputs());
  }

  // Stopped with SIGTERM once the joins are done; it then prints its summary and exits 0.
  p.client = start_incr_client(programs, {},
                               {"--tcp", "127.0.0.1:" + std::to_string(port), "--key", p.name,
                                "--seconds", "86400", "--progress", "1"},
                               what + " client", p.outputs());
  for (int i = 1; i <= joins; i++) {
    join_once(p, i, joins, figures);
    std::this_thread::sleep_for(kJoinLoadBetween);
  }

  const CounterCheck counter = check_counter(stop_process(*p.client), *p.client, port, p.name, what,
                                             "after the joins", p.outputs());
  stop_pair(what, p.primary(), p.backup());
  std::printf(
      "bench: join %s: counter %s >= %s acknowledged; the last joiner reproduced the primary's "
      "run to its end\n",
      size.c_str(), counter.value.c_str(), counter.highest.c_str());
  std::fflush(stdout);
}

}  // namespace

void run_join_section(const Programs& programs, const Options& options) {
  std::printf(
      "bench: join, %d joins per guest size (16M 64M 256M) of a new backup to a counter primary "
      "that runs alone after its backup's kill -9, under a client's INCRs, one shared arbiter\n",
      options.joins);
  std::fflush(stdout);
  JoinFigures figures;
  {
    integration::ArbiterProcess arbiter;
    for (const char* size : kJoinSizes) {
      run_join_size(programs, arbiter, size, options.joins, figures);
    }
  }
  std::printf("\njoin on 127.0.0.1, %d joins per guest size to a primary that runs alone\n",
              options.joins);
  std::printf("%-10s %22s %26s\n", "", "guest pause", "time to redundancy");
  std::printf("%-10s %11s %10s %13s %12s\n", "guest RAM", "p50", "max", "p50", "max");
  for (const char* size : kJoinSizes) {
    const auto& pauses = figures.pause_ms.at(size);
    const auto& redundancies = figures.redundancy_ms.at(size);
    const double pmax = max_of(pauses);
    std::printf("%-10s %8.1f ms %7.1f ms %10.0f ms %9.0f ms", size, median(pauses), pmax,
                median(redundancies), max_of(redundancies));
    if (std::string(size) == kGoalJoinPauseSize) {
      std::printf("   (goal: pause <= %d ms: %s)", static_cast<int>(kGoalJoinPauseMs),
                  verdict(pmax <= kGoalJoinPauseMs));
    }
    std::printf("\n");
  }
  std::printf(
      "guest pause: how long the primary paused its guest to send the pages that changed "
      "during\n");
  std::printf(
      "the pre-copy and the machine state; time to redundancy: from the joiner connecting to "
      "the\n");
  std::printf(
      "pair being registered at a new epoch, the joiner in step (both from the primary's "
      "log).\n");
  std::printf(
      "Every size: no wrong reply, no value went backwards, the counter held at least the "
      "highest\n");
  std::printf("acknowledged, and the last joiner reproduced the primary's run to its end.\n");
}

}  // namespace vmft::bench
