#pragma once
// Clients of the counter guest (examples/counter) in the simulation, on the socket NIC: each
// opens a connection to the guest, sends "INCR <key>", waits for the reply, remembers it and
// sends the next; after a failover they connect to the new server and go on. They are the guest's
// network back end: what the guest sends reaches them a latency after the simulated instant it sent
// it. What they were answered is what a real client would have seen, so it is what "nothing
// acknowledged is lost" is checked against.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "vmft/devices/Nic.h"
#include "vmft/sim/Scheduler.h"
#include "vmft/sim/Vcpu.h"

namespace vmft::sim {

class IncrClients final : public devices::NetBackend {
 public:
  struct Config {
    int clients = 4;
    std::string key = "k";
    /// One way, each message; drawn from the seed for each. At least Vcpu::kLookahead.
    Time min_latency = std::chrono::microseconds(20);
    Time max_latency = std::chrono::microseconds(200);
  };

  IncrClients(Scheduler& scheduler, Config config);

  /// Each client connects to `server` and sends its first INCR.
  void start(Vcpu& server);
  /// The server died: every connection is gone, with the INCR on it unanswered.
  void server_died();
  /// Another server took over: each client connects to it (connection ids from `first_conn`
  /// on, above any the guest knew) and sends a new INCR.
  void switch_to(Vcpu& server, uint32_t first_conn);
  /// The highest value any client had been answered when the server last died.
  long long highest_before_failover() const { return highest_before_failover_; }
  /// Answers since the last switch_to.
  uint64_t answered_since_failover() const { return answered_ - answered_before_failover_; }

  /// Every value each client was answered, in order.
  const std::vector<std::vector<long long>>& answers() const { return answers_; }
  uint64_t answered() const { return answered_; }
  long long highest() const { return highest_; }
  /// What went wrong, if anything: a reply that is not ":N\r\n", or a value not above the
  /// client's last one.
  const std::vector<std::string>& problems() const { return problems_; }

  // The guest's side: called on the vCPU, in its fiber.
  bool has_udp() const override { return false; }
  bool has_tcp() const override { return true; }
  std::optional<devices::FrameConfig> frames() const override { return std::nullopt; }
  void send_frame(std::vector<uint8_t>) override {}
  void send_udp(uint32_t, uint32_t, std::vector<uint8_t>) override {}
  void send_tcp(uint32_t conn, std::vector<uint8_t> data) override;
  void close_tcp(uint32_t conn) override;
  void delivered(const devices::NetEvent&) override {}

 private:
  Time latency();
  void connect(int client, uint32_t conn);
  void send_incr(int client);
  void received(int client, const std::string& bytes);
  int client_of(uint32_t conn) const;

  Scheduler& scheduler_;
  Vcpu* server_ = nullptr;
  Config config_;
  std::vector<std::vector<long long>> answers_;
  std::vector<std::string> pending_;  // per client: reply bytes not yet a whole line
  std::vector<uint32_t> conn_;        // per client: its connection, 0 while it has none
  uint64_t answered_ = 0;
  long long highest_ = 0;
  std::vector<std::string> problems_;
  long long highest_before_failover_ = 0;
  uint64_t answered_before_failover_ = 0;
};

}  // namespace vmft::sim
