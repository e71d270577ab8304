// The echo guest's UDP round trip under `vmft run` and the pair (bench/echo_rtt.cc), and the
// counter guest's INCR throughput under redis-benchmark against redis-server (Debian's, on a
// free port of 127.0.0.1 without persistence), `vmft run` and the pair, alternating. The frame
// NIC section measures the same way in its lab.

#include <sys/socket.h>

#include <cstdio>
#include <regex>

#include "FreePort.h"
#include "LogText.h"
#include "PairRuns.h"
#include "RedisServer.h"
#include "Sections.h"

namespace vmft::bench {

namespace {

using integration::CommandResult;
using integration::VmftProcess;

constexpr double kGoalPairRatio = 0.97;      // the pair must keep at least this fraction of vmft
                                             // run's speed
constexpr double kGoalEchoAddedP50 = 40;     // microseconds the pair may add to the echo round
                                             // trip at p50
constexpr double kGoalEchoAddedP99 = 150;    // ... and at p99
constexpr double kGoalCounterRatio = 0.8;    // the pair must keep at least this fraction of run's
                                             // INCR rate
constexpr double kGoalCounterVsRedis = 0.5;  // vmft run must keep this fraction of redis-server's
                                             // INCR rate
constexpr double kGoalCounterVsRedisPipelined = 0.2;  // ... and this much with -P kCounterPipeline
constexpr int kEchoRoundTrips = 5000;  // per run, after kEchoWarmup: a fraction of a second each
constexpr int kEchoWarmup = 500;
// INCRs per run: two seconds or more under the pair (about 45k/s at -c 50, 180k/s with -P 16),
// so that its status lines, one a second, cover the load; redis-server (80k/s and 1.1M/s) and
// vmft run (60k/s and 290k/s) take less.
constexpr int kCounterRequests = 120000;
constexpr int kCounterClients = 50;  // redis-benchmark's default: many clients, as the issue asks
constexpr int kCounterPipelinedRequests = 500000;
// Where the primary's status lines say how fast its log grows.
const char* const kStatusLine = "primary: instruction";

const Network kHere;

void run_echo_run(const Programs& programs, NetFigures& figures) {
  VmftProcess server(programs.guest("echo"), {"--udp", "127.0.0.1:0"});
  wait_for_console(server, "echo: ready", "vmft run of echo.elf", {});
  const auto port = server.listening_port("udp", kStartTimeout);
  if (!port) fail_run("vmft run of echo.elf", {output_of("vmft run", server)});
  const EchoFigures echo =
      measure_echo(programs, kHere, kHere.host, *port, "vmft run", {output_of("vmft run", server)});
  figures.run_p50.push_back(echo.p50);
  figures.run_p99.push_back(echo.p99);
  if (stop_process(server) != 0) fail_run("vmft run of echo", {output_of("vmft run", server)});
}

void run_echo_pair(const Programs& programs, NetFigures& figures) {
  integration::PairSpec spec;
  spec.guest = programs.guest("echo");
  spec.tcp = false;
  spec.name = kPairName;
  spec.ready_line = "echo: ready";
  const auto pair = start_pair(spec, "echo primary");
  const EchoFigures echo = measure_echo(programs, kHere, kHere.host, pair->udp_port(), "pair",
                                        pair_outputs(pair->primary(), pair->backup()));
  figures.pair_p50.push_back(echo.p50);
  figures.pair_p99.push_back(echo.p99);
  stop_pair("echo", pair->primary(), pair->backup());
}

// One load at `depth` against a fresh `vmft run` of the counter guest.
std::string run_counter_run(const Programs& programs, int depth) {
  VmftProcess server(programs.guest("counter"), {"--tcp", "127.0.0.1:0"});
  wait_for_console(server, "counter: ready", "vmft run of counter.elf", {});
  const auto port = server.listening_port("tcp", kStartTimeout);
  if (!port) fail_run("vmft run of counter.elf", {output_of("vmft run", server)});
  const std::string rate =
      measure_counter(kHere, kHere.host, *port, "vmft run", depth, {output_of("vmft run", server)});
  if (stop_process(server) != 0) fail_run("vmft run of counter", {output_of("vmft run", server)});
  return rate;
}

// The primary's "log X KB/s" status lines logged after its first `before` up to its first
// `after`, less the first of them, which covers time before the load began.
std::vector<double> status_log_rates(const std::string& log, size_t before, size_t after) {
  std::vector<double> rates;
  size_t seen = 0;
  const std::regex rate("log ([0-9.]+) KB/s");
  for (const std::string& line : integration::text_lines(log)) {
    if (line.find(kStatusLine) == std::string::npos) continue;
    seen++;
    std::smatch match;
    if (seen >= before + 2 && seen <= after && std::regex_search(line, match, rate)) {
      rates.push_back(std::stod(match[1].str()));
    }
  }
  return rates;
}

// One load at `depth` against a fresh pair of the counter guest, with the primary's log
// bandwidth during it.
void run_counter_pair(const Programs& programs, int depth, NetFigures& figures) {
  integration::PairSpec spec;
  spec.guest = programs.guest("counter");
  spec.udp = false;
  spec.name = kPairName;
  spec.primary_options = {"--status-interval", "1"};
  spec.ready_line = "counter: ready";
  const auto pair = start_pair(spec, "counter primary");
  VmftProcess& primary = pair->primary();
  const size_t before = integration::count_lines_with(primary.log(), kStatusLine);
  figures.pair[depth].push_back(measure_counter(kHere, kHere.host, pair->tcp_port(), "pair", depth,
                                                pair_outputs(primary, pair->backup())));
  const size_t after = integration::count_lines_with(primary.log(), kStatusLine);
  for (double rate : status_log_rates(primary.log(), before, after)) {
    figures.pair_log_kbs[depth].push_back(rate);
  }
  stop_pair("counter", primary, pair->backup());
}

}  // namespace

std::string counter_load(int depth) {
  std::string load = "-c " + std::to_string(kCounterClients);
  if (depth != 1) load += " -P " + std::to_string(depth);
  return load;
}

int counter_requests(int depth) {
  return depth == 1 ? kCounterRequests : kCounterPipelinedRequests;
}

std::vector<double> numbers(const std::vector<std::string>& texts) {
  std::vector<double> values;
  for (const std::string& text : texts) values.push_back(number(text, "a figure"));
  return values;
}

EchoFigures measure_echo(const Programs& programs, const Network& network, const std::string& host,
                         uint16_t port, const std::string& what, const std::vector<Output>& shown) {
  const CommandResult r = integration::run_command(
      wrapped(network.client_wrapper,
              {programs.echo_rtt, host + ":" + std::to_string(port), "--count",
               std::to_string(kEchoRoundTrips), "--warmup", std::to_string(kEchoWarmup)}),
      kLoadTimeout);
  std::vector<Output> all = {output_of("echo client", r)};
  all.insert(all.end(), shown.begin(), shown.end());
  const std::string client = "echo client against the " + what;
  if (r.exit_code != 0) fail_run(client, all);
  const auto groups =
      integration::last_match(r.out, std::regex("p50 ([0-9.]+) us, p99 ([0-9.]+) us"));
  if (!groups) fail_run(client, all);
  return {(*groups)[0], (*groups)[1]};
}

std::string measure_counter(const Network& network, const std::string& host, uint16_t port,
                            const std::string& what, int depth, const std::vector<Output>& shown) {
  const int requests = counter_requests(depth);
  const CommandResult r = integration::run_command(
      wrapped(network.client_wrapper,
              {"redis-benchmark", "-h", host, "-p", std::to_string(port), "-t", "incr", "-n",
               std::to_string(requests), "-c", std::to_string(kCounterClients), "-P",
               std::to_string(depth), "-q"}),
      kLoadTimeout);
  std::vector<Output> all = {output_of("redis-benchmark", r)};
  all.insert(all.end(), shown.begin(), shown.end());
  const std::string client = "redis-benchmark against the " + what;
  if (r.exit_code != 0) fail_run(client, all);
  const auto rate =
      integration::last_match_group(r.out, std::regex("INCR: ([0-9.]+) requests per second"));
  if (!rate) fail_run(client, all);
  // Without -r, redis-benchmark increments this one key.
  const CommandResult value = integration::redis_cli(
      network.client_wrapper, host, port, {"GET", "counter:__rand_int__"}, kReplyTimeout);
  if (value.out != std::to_string(requests) + "\n") {
    std::string got = value.out;
    while (!got.empty() && got.back() == '\n') got.pop_back();
    fail("the counter of the " + what + " holds '" + got + "' after " + std::to_string(requests) +
             " INCRs (" + counter_load(depth) + ")",
         "counter of the " + what, all);
  }
  return *rate;
}

void run_echo_round(const Programs& programs, NetFigures& figures) {
  run_echo_run(programs, figures);
  run_echo_pair(programs, figures);
}

void run_counter_rounds(const Programs& programs, int runs, NetFigures& figures) {
  integration::RedisServer redis({}, {}, kHere.host, integration::unused_port(SOCK_STREAM));
  const auto redis_output = [&] { return std::vector<Output>{{"redis-server", redis.output()}}; };
  for (int i = 1; i <= runs; i++) {
    for (int depth : kDepths) {
      const CommandResult flushed = redis.cli({"FLUSHALL"});
      if (flushed.out != "OK\n") {
        fail_run("redis-server (FLUSHALL answered '" + flushed.out + flushed.err + "')",
                 redis_output());
      }
      figures.redis[depth].push_back(
          measure_counter(kHere, kHere.host, redis.port(), "redis-server", depth, redis_output()));
      figures.run[depth].push_back(run_counter_run(programs, depth));
      run_counter_pair(programs, depth, figures);
      std::printf("bench: run %d/%d, %s: redis-server %s INCR/s, run %s INCR/s, pair %s INCR/s\n",
                  i, runs, counter_load(depth).c_str(), figures.redis[depth].back().c_str(),
                  figures.run[depth].back().c_str(), figures.pair[depth].back().c_str());
      std::fflush(stdout);
    }
  }
  const auto code = redis.stop(kStopTimeout);
  if (code != 0) {
    fail_run("redis-server (exit status " + (code ? std::to_string(*code) : "none") + ")",
             redis_output());
  }
}

void print_pair_summary(const CpuFigures& cpu, const NetFigures& net) {
  const double run = median(cpu.run), pair = median(cpu.pair);
  const double run_p50 = median(numbers(net.run_p50)), run_p99 = median(numbers(net.run_p99));
  const double pair_p50 = median(numbers(net.pair_p50)), pair_p99 = median(numbers(net.pair_p99));
  std::printf("\nprimary/backup pair on 127.0.0.1, against vmft run (medians of the runs)\n");
  const double ratio = run / pair;
  std::printf(
      "coremark           run %.3f s, pair %.3f s (the primary; every backup reproduced its "
      "run)\n",
      run, pair);
  std::printf("pair speed vs run        %.3f   (goal >= %.2f: %s)\n\n", ratio, kGoalPairRatio,
              verdict(ratio >= kGoalPairRatio));
  std::printf("%-22s %10s %10s %10s\n", "echo round trip", "run", "pair", "added");
  std::printf("%-22s %7.1f us %7.1f us %7.1f us   (goal <= %d us: %s)\n", "p50", run_p50, pair_p50,
              pair_p50 - run_p50, static_cast<int>(kGoalEchoAddedP50),
              verdict(pair_p50 - run_p50 <= kGoalEchoAddedP50));
  std::printf("%-22s %7.1f us %7.1f us %7.1f us   (goal <= %d us: %s)\n", "p99", run_p99, pair_p99,
              pair_p99 - run_p99, static_cast<int>(kGoalEchoAddedP99),
              verdict(pair_p99 - run_p99 <= kGoalEchoAddedP99));
}

void print_counter_summary(const NetFigures& net) {
  std::printf(
      "\ncounter INCR over TCP, redis-benchmark -t incr, medians of the runs (every INCR "
      "counted)\n");
  for (int depth : kDepths) {
    const double goal = depth == 1 ? kGoalCounterVsRedis : kGoalCounterVsRedisPipelined;
    const double redis_incr = median(numbers(net.redis.at(depth)));
    const double run_incr = median(numbers(net.run.at(depth)));
    const double pair_incr = median(numbers(net.pair.at(depth)));
    std::printf("\n%s, -n %d: redis-server %.0f/s, run %.0f/s, pair %.0f/s\n",
                counter_load(depth).c_str(), counter_requests(depth), redis_incr, run_incr,
                pair_incr);
    double ratio = run_incr / redis_incr;
    std::printf("run throughput vs redis-server   %.3f   (goal >= %.2f: %s)\n", ratio, goal,
                verdict(ratio >= goal));
    ratio = pair_incr / run_incr;
    std::printf("pair throughput vs run           %.3f   (goal >= %.2f: %s)\n", ratio,
                kGoalCounterRatio, verdict(ratio >= kGoalCounterRatio));
    const auto found = net.pair_log_kbs.find(depth);
    const std::vector<double> rates =
        found == net.pair_log_kbs.end() ? std::vector<double>{} : found->second;
    if (rates.empty()) {
      std::printf(
          "log bandwidth      no status line fell wholly within a load: more requests needed\n");
    } else {
      double sum = 0;
      for (double rate : rates) sum += rate;
      const double mean = sum / static_cast<double>(rates.size());
      std::printf("log bandwidth      %.1f KB/s (KB = 1024 bytes) under that load, the mean of %zu",
                  mean, rates.size());
      std::printf(" status lines;\n                   about %.0f bytes of log per INCR\n",
                  mean * 1024 / pair_incr);
    }
  }
}

}  // namespace vmft::bench
