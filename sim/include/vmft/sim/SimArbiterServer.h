#pragma once
// `vmft arbiter` on a node of the simulated network: it accepts connections, takes each request
// line as it completes and answers it with the real server's answer_request (ArbiterServer.h)
// on the arbiter's decisions (a SimArbiter), one reply line each, in the order the lines came.
// It can go down: its node crashes (its clients hear their connections reset, and new ones are
// refused) and, restarted, it serves the same decisions again, as `vmft arbiter` restarted on
// the data directory where it persisted every decision it answered.
#include <cstdint>
#include <memory>
#include <vector>

#include "vmft/arbiter/Arbiter.h"
#include "vmft/sim/Network.h"

namespace vmft::sim {

class SimArbiterServer {
 public:
  static constexpr uint16_t kPort = 7000;

  /// Keeps references to `network` and `arbiter`; listens on `node`:kPort.
  SimArbiterServer(Network& network, NodeId node, arbiter::Arbiter& arbiter);
  SimArbiterServer(const SimArbiterServer&) = delete;
  SimArbiterServer& operator=(const SimArbiterServer&) = delete;

  /// What a client connects to: "<node>:<port>".
  std::string address() const;
  const NodeId& node() const { return node_; }
  /// Its node crashes: it answers nothing until restart().
  void crash();
  void restart();
  bool down() const { return down_; }

 private:
  void listen();
  void accept(std::shared_ptr<Connection> connection);

  Network& network_;
  NodeId node_;
  arbiter::Arbiter& arbiter_;
  bool down_ = false;
  std::vector<std::shared_ptr<Connection>> connections_;  // open ones, in the order accepted
};

}  // namespace vmft::sim
