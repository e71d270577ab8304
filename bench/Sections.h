#pragma once
// The benchmark's sections, each in a file of its own. Each measures, checks what it must, and
// prints its per-run lines as it goes; the summaries print the medians and goals.

#include <map>
#include <string>
#include <vector>

#include "Bench.h"

namespace vmft::bench {

// ---- coremark and the idle ticker (CpuSection.cc) ----

struct CpuFigures {
  std::vector<double> bare, hooked, run, record, replay, pair;  // seconds
  std::vector<double> record_log_bytes;
  std::string checksum;      // "coremark checksum N", the same in every run
  std::string instructions;  // the same in every run, replay and pair
  std::string ticker_instructions;
  double ticker_seconds = 0;
  double ticker_log_bytes = 0;
};

/// One round of coremark: bare, bare with a block hook, vmft run, record, replay, the pair.
void run_coremark_round(const Programs& programs, CpuFigures& figures);
/// Records the idle ticker guest once, then replays it.
void run_ticker(const Programs& programs, CpuFigures& figures);
void print_cpu_summary(const CpuFigures& figures);

// ---- echo round trips and counter throughput (NetSection.cc) ----

/// Where the clients and the servers run: here on 127.0.0.1, or in a network lab's namespaces.
struct Network {
  std::string host = "127.0.0.1";           // the servers' host address
  std::vector<std::string> client_wrapper;  // runs a client (e.g. ip netns exec NAME-client)
  std::vector<std::string> server_wrapper;  // runs a server
};

/// redis-benchmark's pipeline depths, the two loads: one INCR at a time, and kCounterPipeline.
inline constexpr int kCounterPipeline = 16;  // the second load: each client sends 16 INCRs at once
inline constexpr int kDepths[] = {1, kCounterPipeline};
/// redis-benchmark's options for the load with pipeline `depth`, as the bench prints them.
std::string counter_load(int depth);
/// INCRs per run at `depth`.
int counter_requests(int depth);

struct EchoFigures {
  std::string p50, p99;  // microseconds, as the client printed them
};
/// kEchoRoundTrips datagrams to the echo guest at host:port; a failure shows `shown` too.
EchoFigures measure_echo(const Programs& programs, const Network& network, const std::string& host,
                         uint16_t port, const std::string& what, const std::vector<Output>& shown);
/// redis-benchmark's INCR test at `depth` against an empty counter at host:port, which must then
/// hold every INCR; returns the INCRs per second, as redis-benchmark printed them.
std::string measure_counter(const Network& network, const std::string& host, uint16_t port,
                            const std::string& what, int depth, const std::vector<Output>& shown);

struct NetFigures {
  std::vector<std::string> run_p50, run_p99, pair_p50, pair_p99;
  std::map<int, std::vector<std::string>> redis, run, pair;  // INCR/s per depth
  std::map<int, std::vector<double>> pair_log_kbs;           // the primary's status lines
};
/// One round of echo: vmft run, then the pair.
void run_echo_round(const Programs& programs, NetFigures& figures);
/// All the rounds of the counter loads against redis-server, vmft run and the pair.
void run_counter_rounds(const Programs& programs, int runs, NetFigures& figures);
void print_pair_summary(const CpuFigures& cpu, const NetFigures& net);
void print_counter_summary(const NetFigures& net);

// ---- the frame NIC, in a network lab (FrameSection.cc) ----

void run_frame_section(const Programs& programs, const Options& options);

// ---- failover and catch-up (FailoverSection.cc) ----

void run_failover_section(const Programs& programs, const Options& options);

// ---- join (JoinSection.cc) ----

void run_join_section(const Programs& programs, const Options& options);

/// The numbers of `texts`, which processes printed.
std::vector<double> numbers(const std::vector<std::string>& texts);

}  // namespace vmft::bench
