#pragma once
// arbiter::ArbiterClient's wire in the simulation: a connection of the simulated network from
// one node (a simulated process) to the arbiter's, each line one message. A call parks the
// fiber that makes it (Parker) until what it waits for comes (the connection, the reply, the
// peer's close) or its deadline passes, on the simulated clock, as the real wire blocks in poll.
// What the fiber sends leaves at the fiber's own time (a vCPU's runs ahead of the scheduler's).
#include <memory>
#include <string>

#include "vmft/arbiter/LineWire.h"
#include "vmft/sim/Network.h"
#include "vmft/sim/Parker.h"

namespace vmft::sim {

class SimLineWire final : public arbiter::LineWire {
 public:
  /// Keeps references to `network` and `parker`; only the fiber `parker` parks may call.
  SimLineWire(Network& network, NodeId node, Parker& parker);
  ~SimLineWire() override;  ///< close()
  SimLineWire(const SimLineWire&) = delete;
  SimLineWire& operator=(const SimLineWire&) = delete;

  TimePoint now() override;
  /// `host` is the node's name. A process that is stopping or dead connects nowhere (WireError).
  Status connect(const std::string& host, const std::string& port, TimePoint deadline) override;
  bool connected() const override { return connection_ != nullptr; }
  Status send_line(const std::string& line, TimePoint deadline) override;
  Line receive_line(TimePoint deadline, size_t max_bytes) override;
  void close() override;

 private:
  // What arrived on the open connection, filled by the network's tasks.
  struct Inbox {
    std::string bytes;
    bool closed = false;
  };
  struct Attempt;  // a connect under way

  // Parks until `ready()` or `deadline`; false if the deadline passed first. Throws WireError
  // if the process is stopping.
  template <typename Ready>
  bool wait(TimePoint deadline, const Ready& ready);
  // Runs `action` at the fiber's time: now, or in a task when a vCPU is ahead of the scheduler.
  void at_my_time(const std::string& what, std::function<void()> action);

  Network& network_;
  NodeId node_;
  Parker& parker_;
  std::shared_ptr<Connection> connection_;
  std::shared_ptr<Inbox> inbox_;
};

}  // namespace vmft::sim
