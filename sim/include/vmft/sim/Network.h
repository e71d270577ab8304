#pragma once
// A simulated network of stream connections between nodes (a node is one simulated process),
// on the scheduler's clock: what the logging channel and the arbiter's clients run over in a
// simulated run. A connection behaves as TCP does for its users: messages arrive whole, in
// order, each after a latency the seed picks, or the connection breaks and both ends hear so.
// The faults are a real network's and a real machine's:
//   partition   messages between two nodes are held, as by a stalled switch: nobody hears
//               anything, and the peer timeouts decide; heal() lets them flow again, in order
//   reset       a connection breaks: both ends hear it after a latency
//   crash       a node dies: its peers hear their connections reset (its kernel answers for it)
//   pause       a node stops (SIGSTOP): what is sent to it waits until it resumes
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "vmft/sim/Scheduler.h"

namespace vmft::sim {

using NodeId = std::string;
using Message = std::vector<uint8_t>;

class Network;

/// One end of a connection, held by the node it belongs to.
class Connection {
 public:
  using OnMessage = std::function<void(Message)>;
  using OnClosed = std::function<void(const std::string& why)>;

  /// Queues `message` for the peer. Ignored once this end is closed.
  void send(Message message);
  /// Closes this end: the peer hears "closed by the peer" after a latency.
  void close();
  void on_message(OnMessage handler) { on_message_ = std::move(handler); }
  void on_closed(OnClosed handler) { on_closed_ = std::move(handler); }
  bool open() const { return open_; }
  const NodeId& node() const { return node_; }
  const NodeId& peer_node() const { return peer_node_; }

 private:
  friend class Network;
  Connection(Network& network, uint64_t id, NodeId node, NodeId peer_node)
      : network_(network), id_(id), node_(std::move(node)), peer_node_(std::move(peer_node)) {}

  Network& network_;
  uint64_t id_;
  NodeId node_;
  NodeId peer_node_;
  std::weak_ptr<Connection> peer_;
  bool open_ = true;
  OnMessage on_message_;
  OnClosed on_closed_;
  Time last_arrival_{0};  // messages to this end arrive in order: never before this
};

class Network {
 public:
  struct Conditions {
    Time min_latency = std::chrono::microseconds(20);
    Time max_latency = std::chrono::microseconds(400);
  };
  using OnAccept = std::function<void(std::shared_ptr<Connection>)>;
  /// A connection, or nullopt and why it failed.
  using OnConnect =
      std::function<void(std::shared_ptr<Connection> connection, const std::string& error)>;

  Network(Scheduler& scheduler, Conditions conditions);

  /// `node` accepts connections on `port`; a second listen replaces the first.
  void listen(const NodeId& node, uint16_t port, OnAccept on_accept);
  void stop_listening(const NodeId& node, uint16_t port);
  /// Connects `from` to `to`:`port`. After a round trip, `done` gets the connection, or (no
  /// listener, the node crashed, or partitioned from `from`: then only after `timeout`) an error.
  void connect(const NodeId& from, const NodeId& to, uint16_t port, Time timeout, OnConnect done);

  void partition(const NodeId& a, const NodeId& b);
  void heal(const NodeId& a, const NodeId& b);
  bool partitioned(const NodeId& a, const NodeId& b) const;
  /// Breaks one connection: both ends hear `why` after a latency.
  void reset(Connection& end, const std::string& why);
  /// `node` died: its listeners go, its connections break, its peers hear a reset.
  void crash(const NodeId& node);
  void pause(const NodeId& node);
  void resume(const NodeId& node);
  bool paused(const NodeId& node) const { return paused_.count(node) != 0; }

  Scheduler& scheduler() { return scheduler_; }

 private:
  friend class Connection;
  struct Held {
    std::weak_ptr<Connection> to;
    std::function<void()> deliver;
  };

  Time latency();
  // Delivers to `to` after a latency, in order with everything else sent to it; held while
  // a partition or a pause stands between.
  void deliver(const std::shared_ptr<Connection>& to, const NodeId& from, std::string what,
               std::function<void()> arrive);
  void arrive(const std::shared_ptr<Connection>& to, const NodeId& from, std::string what,
              std::function<void()> arrive);
  void close_end(Connection& end, const std::string& why);
  void release_held();

  Scheduler& scheduler_;
  Conditions conditions_;
  uint64_t next_connection_ = 1;
  std::map<std::pair<NodeId, uint16_t>, OnAccept> listeners_;
  std::set<std::pair<NodeId, NodeId>> partitions_;  // each pair once, the smaller first
  std::set<NodeId> paused_;
  std::vector<std::weak_ptr<Connection>> connections_;
  // What arrived while held, in the order it arrived.
  std::vector<std::pair<NodeId, Held>> held_;
};

}  // namespace vmft::sim
