#include "vmft/sim/IncrClients.h"

#include "vmft/guest/abi.h"

namespace vmft::sim {

namespace {

constexpr uint32_t kClientIp = 0x0a000002;  // 10.0.0.2, as the guest sees its clients
constexpr uint32_t kFirstClientPort = 40000;

// Client i's connection: ids from 1, as the host's NIC numbers them.
uint32_t conn_of(int client) { return static_cast<uint32_t>(client) + 1; }

}  // namespace

IncrClients::IncrClients(Scheduler& scheduler, Vcpu& server, Config config)
    : scheduler_(scheduler),
      server_(server),
      config_(std::move(config)),
      answers_(static_cast<size_t>(config_.clients)),
      pending_(static_cast<size_t>(config_.clients)) {}

Time IncrClients::latency() {
  return Time(scheduler_.random().between(config_.min_latency.count(),
                                          config_.max_latency.count()));
}

void IncrClients::start() {
  for (int c = 0; c < config_.clients; c++) {
    scheduler_.after(latency(), "client " + std::to_string(c) + " connects", [this, c] {
      server_.deliver(devices::NetEvent{VMFT_NIC_KIND_TCP_OPEN, conn_of(c), kClientIp,
                                        kFirstClientPort + static_cast<uint32_t>(c), {}});
      send_incr(c);
    });
  }
}

void IncrClients::send_incr(int client) {
  const std::string command = "INCR " + config_.key + "\r\n";
  scheduler_.after(latency(), "client " + std::to_string(client) + " sends INCR",
                   [this, client, command] {
                     server_.deliver(devices::NetEvent{VMFT_NIC_KIND_TCP_DATA, conn_of(client),
                                                       kClientIp,
                                                       kFirstClientPort + static_cast<uint32_t>(client),
                                                       {command.begin(), command.end()}});
                   });
}

void IncrClients::send_tcp(uint32_t conn, std::vector<uint8_t> data) {
  const int client = static_cast<int>(conn) - 1;
  if (client < 0 || client >= config_.clients) {
    problems_.push_back("the guest sent on connection " + std::to_string(conn) +
                        ", which no client opened");
    return;
  }
  // It leaves when the guest sent it, in the guest's simulated time.
  scheduler_.at(server_.now() + latency(), "client " + std::to_string(client) + " hears back",
                [this, client, bytes = std::string(data.begin(), data.end())] {
                  received(client, bytes);
                });
}

void IncrClients::close_tcp(uint32_t conn) {
  problems_.push_back("the guest closed connection " + std::to_string(conn));
}

void IncrClients::received(int client, const std::string& bytes) {
  std::string& pending = pending_[static_cast<size_t>(client)];
  pending += bytes;
  for (size_t end; (end = pending.find("\r\n")) != std::string::npos;) {
    const std::string line = pending.substr(0, end);
    pending.erase(0, end + 2);
    long long value = 0;
    try {
      if (line.empty() || line[0] != ':') throw std::invalid_argument(line);
      value = std::stoll(line.substr(1));
    } catch (const std::exception&) {
      problems_.push_back("client " + std::to_string(client) + " got '" + line + "'");
      continue;
    }
    auto& answers = answers_[static_cast<size_t>(client)];
    if (!answers.empty() && value <= answers.back()) {
      problems_.push_back("client " + std::to_string(client) + " got " + std::to_string(value) +
                          " after " + std::to_string(answers.back()));
    }
    answers.push_back(value);
    ++answered_;
    highest_ = std::max(highest_, value);
    send_incr(client);
  }
}

}  // namespace vmft::sim
