#include "vmft/sim/Network.h"

#include <algorithm>

namespace vmft::sim {

namespace {

std::pair<NodeId, NodeId> ordered(const NodeId& a, const NodeId& b) {
  return a < b ? std::pair{a, b} : std::pair{b, a};
}

}  // namespace

void Connection::send(Message message) {
  if (!open_) return;
  const auto peer = peer_.lock();
  if (!peer) return;
  const std::string what =
      node_ + " -> " + peer_node_ + ": " + std::to_string(message.size()) + " bytes";
  network_.deliver(peer, node_, what, [peer, message = std::move(message)]() mutable {
    if (peer->open_ && peer->on_message_) peer->on_message_(std::move(message));
  });
}

void Connection::close() {
  if (!open_) return;
  open_ = false;
  const auto peer = peer_.lock();
  if (!peer) return;
  Network& network = network_;
  network_.deliver(peer, node_, node_ + " closed its connection to " + peer_node_,
                   [&network, peer] { network.close_end(*peer, "closed by the peer"); });
}

Network::Network(Scheduler& scheduler, Conditions conditions)
    : scheduler_(scheduler), conditions_(conditions) {}

Time Network::latency() {
  return Time(scheduler_.random().between(conditions_.min_latency.count(),
                                          conditions_.max_latency.count()));
}

void Network::listen(const NodeId& node, uint16_t port, OnAccept on_accept) {
  listeners_[{node, port}] = std::move(on_accept);
}

void Network::stop_listening(const NodeId& node, uint16_t port) { listeners_.erase({node, port}); }

void Network::connect(const NodeId& from, const NodeId& to, uint16_t port, Time timeout,
                      OnConnect done) {
  const std::string what = from + " connects to " + to + ":" + std::to_string(port);
  if (partitioned(from, to)) {
    scheduler_.after(timeout, what + ": timed out", [done] { done(nullptr, "timed out"); });
    return;
  }
  scheduler_.after(latency(), what, [this, from, to, port, done, what] {
    const auto listener = listeners_.find({to, port});
    if (listener == listeners_.end() || partitioned(from, to)) {
      scheduler_.after(latency(), what + ": refused",
                       [done] { done(nullptr, "connection refused"); });
      return;
    }
    const uint64_t id = next_connection_++;
    auto client = std::shared_ptr<Connection>(new Connection(*this, id, from, to));
    auto server = std::shared_ptr<Connection>(new Connection(*this, id, to, from));
    client->peer_ = server;
    server->peer_ = client;
    connections_.push_back(client);
    connections_.push_back(server);
    // The client learns of it a latency later; nothing the server sends overtakes that.
    const Time established = scheduler_.now() + latency();
    client->last_arrival_ = established;
    scheduler_.at(established, what + ": connected", [done, client] { done(client, ""); });
    listener->second(server);
  });
}

void Network::partition(const NodeId& a, const NodeId& b) { partitions_.insert(ordered(a, b)); }

void Network::heal(const NodeId& a, const NodeId& b) {
  partitions_.erase(ordered(a, b));
  release_held();
}

bool Network::partitioned(const NodeId& a, const NodeId& b) const {
  return partitions_.count(ordered(a, b)) != 0;
}

void Network::reset(Connection& end, const std::string& why) {
  const auto peer = end.peer_.lock();
  if (end.open_) {
    auto self = std::find_if(connections_.begin(), connections_.end(),
                             [&](const auto& weak) { return weak.lock().get() == &end; });
    if (self != connections_.end()) {
      const auto local = self->lock();
      scheduler_.after(Time{0}, end.node_ + ": connection to " + end.peer_node_ + " reset",
                       [this, local, why] { close_end(*local, why); });
    }
  }
  if (peer && peer->open_) {
    deliver(peer, end.node_, end.node_ + " reset its connection to " + peer->node_,
            [this, peer, why] { close_end(*peer, why); });
  }
}

void Network::crash(const NodeId& node) {
  for (auto it = listeners_.begin(); it != listeners_.end();) {
    it = it->first.first == node ? listeners_.erase(it) : std::next(it);
  }
  std::erase_if(held_, [&](const auto& entry) {
    const auto to = entry.second.to.lock();
    return !to || to->node_ == node;
  });
  paused_.erase(node);
  for (const auto& weak : connections_) {
    const auto end = weak.lock();
    if (!end || end->node_ != node || !end->open_) continue;
    end->open_ = false;  // the dead process hears nothing more
    const auto peer = end->peer_.lock();
    if (peer && peer->open_) {
      deliver(peer, node, node + " crashed: its kernel resets the connection to " + peer->node_,
              [this, peer] { close_end(*peer, "connection reset by peer"); });
    }
  }
  std::erase_if(connections_, [](const auto& weak) { return weak.expired(); });
}

void Network::pause(const NodeId& node) { paused_.insert(node); }

void Network::resume(const NodeId& node) {
  paused_.erase(node);
  release_held();
}

void Network::deliver(const std::shared_ptr<Connection>& to, const NodeId& from, std::string what,
                      std::function<void()> arrive_fn) {
  const Time when = std::max(scheduler_.now() + latency(), to->last_arrival_);
  to->last_arrival_ = when;
  scheduler_.at(when, what, [this, to, from, what, arrive_fn = std::move(arrive_fn)]() mutable {
    arrive(to, from, std::move(what), std::move(arrive_fn));
  });
}

void Network::arrive(const std::shared_ptr<Connection>& to, const NodeId& from, std::string what,
                     std::function<void()> arrive_fn) {
  // Behind anything already held for the same end: a connection keeps its order.
  const bool behind = std::any_of(held_.begin(), held_.end(),
                                  [&](const auto& entry) { return entry.second.to.lock() == to; });
  if (behind || partitioned(from, to->node_) || paused(to->node_)) {
    scheduler_.note("held: " + what);
    held_.push_back({from, Held{to, std::move(arrive_fn)}});
    return;
  }
  arrive_fn();
}

void Network::close_end(Connection& end, const std::string& why) {
  if (!end.open_) return;
  end.open_ = false;
  if (end.on_closed_) end.on_closed_(why);
}

void Network::release_held() {
  std::vector<std::pair<NodeId, Held>> still;
  std::set<const Connection*> blocked;  // ends with an earlier message still held
  for (auto& [from, held] : held_) {
    const auto to = held.to.lock();
    if (!to) continue;
    if (blocked.count(to.get()) || partitioned(from, to->node_) || paused(to->node_)) {
      blocked.insert(to.get());
      still.emplace_back(from, std::move(held));
      continue;
    }
    scheduler_.after(Time{0}, "released to " + to->node_ + " from " + from,
                     std::move(held.deliver));
  }
  held_ = std::move(still);
}

}  // namespace vmft::sim
