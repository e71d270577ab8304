#pragma once
// Clients of the counter guest (examples/counter) in the simulation, on the socket NIC: each
// opens a connection to the guest, sends "INCR <key>", waits for the reply, remembers it and
// sends the next. They are the guest's network back end: what the guest sends reaches them a
// latency after the simulated instant it sent it. What they were answered is what a real
// client would have seen, so it is what "nothing acknowledged is lost" is checked against.
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
    /// One way, each message; drawn from the seed for each.
    Time min_latency = std::chrono::microseconds(20);
    Time max_latency = std::chrono::microseconds(200);
  };

  IncrClients(Scheduler& scheduler, Vcpu& server, Config config);

  /// Each client connects and sends its first INCR.
  void start();

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
  void send_incr(int client);
  void received(int client, const std::string& bytes);

  Scheduler& scheduler_;
  Vcpu& server_;
  Config config_;
  std::vector<std::vector<long long>> answers_;
  std::vector<std::string> pending_;  // per client: reply bytes not yet a whole line
  uint64_t answered_ = 0;
  long long highest_ = 0;
  std::vector<std::string> problems_;
};

}  // namespace vmft::sim
