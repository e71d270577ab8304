#include "vmft/sim/SimArbiterServer.h"

#include <algorithm>

#include "vmft/arbiter/ArbiterServer.h"

namespace vmft::sim {

SimArbiterServer::SimArbiterServer(Network& network, NodeId node, arbiter::Arbiter& arbiter)
    : network_(network), node_(std::move(node)), arbiter_(arbiter) {
  listen();
}

std::string SimArbiterServer::address() const { return node_ + ":" + std::to_string(kPort); }

void SimArbiterServer::listen() {
  network_.listen(node_, kPort, [this](std::shared_ptr<Connection> c) { accept(std::move(c)); });
}

void SimArbiterServer::crash() {
  down_ = true;
  network_.crash(node_);
  connections_.clear();
}

void SimArbiterServer::restart() {
  down_ = false;
  listen();
}

void SimArbiterServer::accept(std::shared_ptr<Connection> connection) {
  std::erase_if(connections_, [](const auto& c) { return !c->open(); });
  auto unanswered = std::make_shared<std::string>();
  std::weak_ptr<Connection> weak = connection;
  connection->on_message([this, weak, unanswered](Message message) {
    const auto self = weak.lock();
    if (!self) return;
    unanswered->append(message.begin(), message.end());
    for (size_t newline; (newline = unanswered->find('\n')) != std::string::npos;) {
      const std::string reply =
          arbiter::answer_request(arbiter_, std::string_view(*unanswered).substr(0, newline));
      unanswered->erase(0, newline + 1);
      Message bytes(reply.begin(), reply.end());
      bytes.push_back('\n');
      self->send(std::move(bytes));
    }
  });
  connections_.push_back(std::move(connection));
}

}  // namespace vmft::sim
