#include "vmft/sim/IncrClients.h"

#include <stdexcept>

#include "vmft/guest/abi.h"

namespace vmft::sim {

namespace {

constexpr uint32_t kClientIp = 0x0a000002;  // 10.0.0.2, as the guest sees its clients
constexpr uint32_t kFirstClientPort = 40000;

uint32_t port_of(int client) { return kFirstClientPort + static_cast<uint32_t>(client); }

}  // namespace

IncrClients::IncrClients(Scheduler& scheduler, Config config)
    : scheduler_(scheduler),
      config_(std::move(config)),
      answers_(static_cast<size_t>(config_.clients)),
      pending_(static_cast<size_t>(config_.clients)),
      conn_(static_cast<size_t>(config_.clients), 0) {
  if (config_.min_latency < Vcpu::kLookahead || config_.max_latency < config_.min_latency) {
    throw std::invalid_argument("the clients' latency must be at least Vcpu::kLookahead");
  }
}

Time IncrClients::latency() {
  return Time(
      scheduler_.random().between(config_.min_latency.count(), config_.max_latency.count()));
}

void IncrClients::start(Vcpu& server) {
  server_ = &server;
  // Connection ids from 1, as the host's NIC numbers them.
  for (int c = 0; c < config_.clients; c++) connect(c, static_cast<uint32_t>(c) + 1);
}

void IncrClients::connect(int client, uint32_t conn) {
  scheduler_.after(
      latency(), "client " + std::to_string(client) + " connects", [this, client, conn] {
        conn_[static_cast<size_t>(client)] = conn;
        pending_[static_cast<size_t>(client)].clear();
        server_->deliver(
            devices::NetEvent{VMFT_NIC_KIND_TCP_OPEN, conn, kClientIp, port_of(client), {}});
        send_incr(client);
      });
}

void IncrClients::server_died() {
  for (uint32_t& conn : conn_) conn = 0;
  highest_before_failover_ = highest_;
  answered_before_failover_ = answered_;
}

void IncrClients::switch_to(Vcpu& server, uint32_t first_conn) {
  server_ = &server;
  for (int c = 0; c < config_.clients; c++) connect(c, first_conn + static_cast<uint32_t>(c));
}

int IncrClients::client_of(uint32_t conn) const {
  for (size_t c = 0; c < conn_.size(); c++) {
    if (conn != 0 && conn_[c] == conn) return static_cast<int>(c);
  }
  return -1;
}

void IncrClients::send_incr(int client) {
  const uint32_t conn = conn_[static_cast<size_t>(client)];
  const std::string command = "INCR " + config_.key + "\r\n";
  scheduler_.after(latency(), "client " + std::to_string(client) + " sends INCR",
                   [this, client, conn, command] {
                     if (conn_[static_cast<size_t>(client)] != conn) return;  // gone meanwhile
                     server_->deliver(devices::NetEvent{VMFT_NIC_KIND_TCP_DATA,
                                                        conn,
                                                        kClientIp,
                                                        port_of(client),
                                                        {command.begin(), command.end()}});
                   });
}

void IncrClients::send_tcp(uint32_t conn, std::vector<uint8_t> data) {
  // It leaves when the guest sent it, in the guest's simulated time; a client that has since
  // lost that connection (the server died) never reads it.
  scheduler_.at(server_->now() + latency(), "connection " + std::to_string(conn) + " hears back",
                [this, conn, bytes = std::string(data.begin(), data.end())] {
                  const int client = client_of(conn);
                  if (client >= 0) received(client, bytes);
                });
}

void IncrClients::close_tcp(uint32_t conn) {
  // The guest closes the connections a failover left behind; a client's own must stay.
  if (client_of(conn) >= 0) {
    problems_.push_back("the guest closed connection " + std::to_string(conn) +
                        ", which a client uses");
  }
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
