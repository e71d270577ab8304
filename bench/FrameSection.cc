// The frame NIC, as root: in a network lab of its own (scripts/netlab), the counter loads from
// the lab's client namespace against redis-server and `vmft run` of the counter on the socket
// NIC (--tcp, both on the lab's bridge address) and on the frame NIC (--tap, the guest's own
// TCP/IP stack), alternating, and the echo guest's UDP round trip on each NIC. Then --kills
// kills -9 of the primary of a fresh frame-NIC counter pair in the lab, each under a client
// that INCRs on one connection it never reopens: how many connections carried on, and the p50
// and max of the client's wait across the kill.

#include <chrono>
#include <cstdio>
#include <map>
#include <regex>
#include <thread>

#include "ArbiterProcess.h"
#include "IncrClient.h"
#include "LogText.h"
#include "NetLab.h"
#include "PairRuns.h"
#include "RedisServer.h"
#include "Sections.h"

namespace vmft::bench {

namespace {

using integration::VmftProcess;

constexpr double kGoalFrameVsSocket = 0.8;  // the frame NIC must keep this fraction of the
                                            // socket NIC's INCR rate
constexpr double kGoalFramePauseP50 = 50;   // ms a client's one connection may wait across a
                                            // failover, p50
constexpr double kGoalFramePauseMax = 200;  // ... and at most
// The lab: the bridge's address (redis-server and the socket NIC's listeners) and the guest's,
// and their ports there.
constexpr const char* kLabHost = "198.18.0.1";
constexpr const char* kGuestIp = integration::NetLab::kGuestIp;
constexpr uint16_t kLabRedisPort = 6381;
constexpr uint16_t kLabSocketPort = 6380;
constexpr uint16_t kLabEchoPort = 7007;
constexpr uint16_t kGuestCounterPort = 6379;  // the counter's port on the frame NIC
constexpr uint16_t kGuestEchoPort = 7;        // echo's

const std::vector<std::string> kFrameNic = {"--tap", "tap0", "--guest-ip",
                                            std::string(kGuestIp) + "/24"};

struct FrameFigures {
  std::map<int, std::vector<std::string>> redis, socket, frame;  // INCR/s per depth
  std::vector<std::string> socket_p50, socket_p99, frame_p50, frame_p99;
  std::vector<double> pause_ms;
  int connection_errors = 0;
};

// `vmft run` of `guest` in the lab with `args`, once its console says `ready`.
std::unique_ptr<VmftProcess> start_lab_server(const integration::NetLab& lab,
                                              const Programs& programs, const std::string& guest,
                                              const std::vector<std::string>& args,
                                              const std::string& ready) {
  auto server = std::make_unique<VmftProcess>(lab.in_lab(), "run", programs.guest(guest), args);
  wait_for_console(*server, ready, "vmft run of " + guest + ".elf in the lab", {});
  return server;
}

// One load at `depth` against a fresh counter on the socket NIC or the frame NIC, in the lab.
std::string run_lab_counter(const integration::NetLab& lab, const Network& network,
                            const Programs& programs, int depth, bool frame_nic) {
  const std::string nic = frame_nic ? "frame" : "socket";
  const auto server = start_lab_server(
      lab, programs, "counter",
      frame_nic ? kFrameNic
                : std::vector<std::string>{"--tcp", std::string(kLabHost) + ":" +
                                                        std::to_string(kLabSocketPort)},
      "counter: ready");
  const std::string rate = measure_counter(
      network, frame_nic ? kGuestIp : kLabHost, frame_nic ? kGuestCounterPort : kLabSocketPort,
      "counter on the " + nic + " NIC", depth, {output_of("vmft run", *server)});
  if (stop_process(*server) != 0) {
    fail_run("vmft run of counter on the " + nic + " NIC", {output_of("vmft run", *server)});
  }
  return rate;
}

EchoFigures run_lab_echo(const integration::NetLab& lab, const Network& network,
                         const Programs& programs, bool frame_nic) {
  const std::string nic = frame_nic ? "frame" : "socket";
  const auto server = start_lab_server(
      lab, programs, "echo",
      frame_nic ? kFrameNic
                : std::vector<std::string>{"--udp", std::string(kLabHost) + ":" +
                                                        std::to_string(kLabEchoPort)},
      "echo: ready");
  if (frame_nic) {
    // A fresh guest knows no MAC, and the client may still hold the last guest's: a ping first
    // makes the guest resolve the client, so the first timed datagram does not wait for ARP.
    integration::run_command(wrapped(lab.in_client(), {"ping", "-c", "1", "-W", "5", kGuestIp}),
                             kReplyTimeout);
  }
  const EchoFigures echo = measure_echo(
      programs, network, frame_nic ? kGuestIp : kLabHost, frame_nic ? kGuestEchoPort : kLabEchoPort,
      "echo on the " + nic + " NIC", {output_of("vmft run", *server)});
  if (stop_process(*server) != 0) {
    fail_run("vmft run of echo on the " + nic + " NIC", {output_of("vmft run", *server)});
  }
  return echo;
}

// One kill on the frame NIC: a fresh pair of the counter in the lab (the primary on tap0, the
// backup on tap1), a client in the client namespace INCRing on one connection that it never
// reopens, and kill -9 of the primary once replies flow. Records the client's wait across the
// kill, or counts a connection error (the goal is none); a counter that does not hold exactly
// the INCRs answered fails the benchmark.
void run_frame_failover(const integration::NetLab& lab, const Programs& programs,
                        const integration::ArbiterProcess& arbiter, int i, int kills,
                        FrameFigures& figures) {
  const std::string name = "frames-" + std::to_string(i);
  const std::string what = "frame NIC failover " + std::to_string(i);
  integration::PairSpec spec;
  spec.guest = programs.guest("counter");
  spec.udp = spec.tcp = false;
  spec.name = name;
  spec.wrapper = lab.in_lab();
  spec.options = {"--guest-ip",      std::string(kGuestIp) + "/24", "--arbiter",
                  arbiter.address(), "--status-interval",           "0"};
  spec.primary_options = {"--tap", "tap0"};
  spec.backup_side_options = {"--tap", "tap1"};
  spec.ready_line = "counter: ready";
  const auto pair = start_pair(spec, what + " primary");
  VmftProcess& primary = pair->primary();
  VmftProcess& backup = pair->backup();

  const auto client =
      start_incr_client(programs, lab.in_client(),
                        {"--tcp", std::string(kGuestIp) + ":" + std::to_string(kGuestCounterPort),
                         "--key", name, "--one-connection", "--seconds", kFailoverClientSeconds,
                         "--progress", "0.02", "--report-gaps-over", kFailoverGapMs},
                        what + " client", pair_outputs(primary, backup));
  std::this_thread::sleep_for(kFailoverLoadBefore);  // a length of load, not a wait
  const double kill_ms = kill_primary(primary, what);

  const auto all_shown = [&] {
    std::vector<Output> all = {output_of("client", *client)};
    for (auto& o : pair_outputs(primary, backup)) all.push_back(o);
    return all;
  };
  if (finish_process(*client, what + " client", all_shown()) != 0) {
    figures.connection_errors++;
    std::string failed = "the client failed";
    for (const std::string& line : integration::text_lines(client->stdout_text())) {
      if (line.find("FAILED") != std::string::npos) {
        failed = line;
        break;
      }
    }
    std::printf("bench: kill %d/%d: %s\n", i, kills, failed.c_str());
  } else {
    const auto answered = integration::last_match_group(
        client->stdout_text(),
        std::regex("one connection throughout: [0-9]+ INCRs sent, ([0-9]+) answered"));
    if (!answered) fail_run(what + " client", all_shown());
    const std::string value = counter_value(lab.in_client(), kGuestIp, kGuestCounterPort, name);
    if (value != *answered) {
      fail(what + ": the counter holds '" + value + "', but the client had " + *answered +
               " INCRs answered",
           what, all_shown());
    }
    // The wait that the kill falls in: the longest wait ending after it.
    const double longest = longest_wait_after(gaps_of(client->stdout_text()), kill_ms);
    figures.pause_ms.push_back(longest);
    std::printf(
        "bench: kill %d/%d: the connection carried on; the client waited %.1f ms across the "
        "kill; counter %s = %s INCRs answered\n",
        i, kills, longest, value.c_str(), answered->c_str());
  }
  std::fflush(stdout);
  stop_process(backup);
}

void print_summary(const FrameFigures& f, int kills) {
  std::printf(
      "\nthe frame NIC, in a network lab: redis-benchmark -t incr from its client namespace,"
      " medians of the runs\n(every INCR counted; redis-server and the socket NIC on the bridge,"
      " the frame NIC behind a TAP device)\n");
  for (int depth : kDepths) {
    const double redis_incr = median(numbers(f.redis.at(depth)));
    const double socket_incr = median(numbers(f.socket.at(depth)));
    const double frame_incr = median(numbers(f.frame.at(depth)));
    std::printf("\n%s, -n %d: redis-server %.0f/s, socket NIC %.0f/s, frame NIC %.0f/s\n",
                counter_load(depth).c_str(), counter_requests(depth), redis_incr, socket_incr,
                frame_incr);
    const double ratio = frame_incr / socket_incr;
    std::printf("frame NIC throughput vs socket NIC    %.3f   (goal >= %.2f: %s)\n", ratio,
                kGoalFrameVsSocket, verdict(ratio >= kGoalFrameVsSocket));
    std::printf("frame NIC throughput vs redis-server  %.3f   (no goal)\n",
                frame_incr / redis_incr);
  }
  std::printf("\n%-22s %12s %12s\n", "echo UDP round trip", "socket NIC", "frame NIC");
  std::printf("%-22s %9.1f us %9.1f us\n", "p50", median(numbers(f.socket_p50)),
              median(numbers(f.frame_p50)));
  std::printf("%-22s %9.1f us %9.1f us\n", "p99", median(numbers(f.socket_p99)),
              median(numbers(f.frame_p99)));
  const double p50 = median(f.pause_ms), pmax = max_of(f.pause_ms);
  std::printf(
      "\nfailover on the frame NIC, %d kills -9 of the primary, one client connection each\n",
      kills);
  std::printf("connections that carried on     %d of %d   (goal: all: %s)\n",
              kills - f.connection_errors, kills, verdict(f.connection_errors == 0));
  std::printf(
      "the client's wait across the kill  p50 %.1f ms (goal <= %d: %s), max %.1f ms (goal <= %d: "
      "%s)\n",
      p50, static_cast<int>(kGoalFramePauseP50), verdict(p50 <= kGoalFramePauseP50), pmax,
      static_cast<int>(kGoalFramePauseMax), verdict(pmax <= kGoalFramePauseMax));
  std::printf(
      "Every kill whose connection carried on: the counter held exactly the INCRs answered.\n");
}

}  // namespace

void run_frame_section(const Programs& programs, const Options& options) {
  std::printf(
      "bench: the frame NIC, %d runs each in a network lab, alternating redis-server (one, "
      "emptied before each load) and vmft run of the counter on the socket NIC and the frame "
      "NIC, redis-benchmark from the client namespace as above; then echo's UDP round trip on "
      "each NIC\n",
      options.runs);
  std::fflush(stdout);
  FrameFigures figures;
  {
    integration::NetLab lab;
    set_lab_to_remove(lab.name());
    const Network network{kLabHost, lab.in_client(), lab.in_lab()};
    {
      integration::RedisServer redis(lab.in_lab(), lab.in_client(), kLabHost, kLabRedisPort);
      const auto redis_output = [&] {
        return std::vector<Output>{{"redis-server", redis.output()}};
      };
      for (int i = 1; i <= options.runs; i++) {
        for (int depth : kDepths) {
          const auto flushed = redis.cli({"FLUSHALL"});
          if (flushed.out != "OK\n") {
            fail_run("redis-server (FLUSHALL answered '" + flushed.out + flushed.err + "')",
                     redis_output());
          }
          figures.redis[depth].push_back(measure_counter(network, kLabHost, kLabRedisPort,
                                                         "redis-server", depth, redis_output()));
          figures.socket[depth].push_back(run_lab_counter(lab, network, programs, depth, false));
          figures.frame[depth].push_back(run_lab_counter(lab, network, programs, depth, true));
          std::printf(
              "bench: run %d/%d, %s: redis-server %s INCR/s, socket NIC %s INCR/s, frame NIC %s "
              "INCR/s\n",
              i, options.runs, counter_load(depth).c_str(), figures.redis[depth].back().c_str(),
              figures.socket[depth].back().c_str(), figures.frame[depth].back().c_str());
          std::fflush(stdout);
        }
      }
      const auto code = redis.stop(kStopTimeout);
      if (code != 0) {
        fail_run("redis-server (exit status " + (code ? std::to_string(*code) : "none") + ")",
                 redis_output());
      }
    }
    for (int i = 1; i <= options.runs; i++) {
      const EchoFigures socket = run_lab_echo(lab, network, programs, false);
      const EchoFigures frame = run_lab_echo(lab, network, programs, true);
      figures.socket_p50.push_back(socket.p50);
      figures.socket_p99.push_back(socket.p99);
      figures.frame_p50.push_back(frame.p50);
      figures.frame_p99.push_back(frame.p99);
      std::printf(
          "bench: run %d/%d: echo on the socket NIC p50 %s us, on the frame NIC p50 %s us\n", i,
          options.runs, socket.p50.c_str(), frame.p50.c_str());
      std::fflush(stdout);
    }
    std::printf(
        "bench: the frame NIC's failover, %d kills -9 of the primary of a fresh counter pair in "
        "the lab, a client INCRing on one connection it never reopens\n",
        options.kills);
    std::fflush(stdout);
    integration::ArbiterProcess arbiter(lab.in_lab());
    for (int i = 1; i <= options.kills; i++) {
      run_frame_failover(lab, programs, arbiter, i, options.kills, figures);
    }
  }
  set_lab_to_remove("");
  print_summary(figures, options.kills);
}

}  // namespace vmft::bench
