#include "vmft/sim/SimLineWire.h"

#include <charconv>

namespace vmft::sim {

namespace {

using arbiter::WireError;

Time to_time(arbiter::LineWire::TimePoint t) {
  return std::chrono::duration_cast<Time>(t.time_since_epoch());
}

}  // namespace

struct SimLineWire::Attempt {
  Parker* parker;
  bool abandoned = false;  // the caller gave up: a connection that comes now is closed
  bool done = false;
  std::shared_ptr<Connection> connection;
  std::shared_ptr<Inbox> inbox;
  std::string error;
};

SimLineWire::SimLineWire(Network& network, NodeId node, Parker& parker)
    : network_(network), node_(std::move(node)), parker_(parker) {}

SimLineWire::~SimLineWire() { close(); }

arbiter::LineWire::TimePoint SimLineWire::now() {
  return TimePoint(std::chrono::duration_cast<TimePoint::duration>(parker_.now()));
}

template <typename Ready>
bool SimLineWire::wait(TimePoint deadline, const Ready& ready) {
  Scheduler& scheduler = network_.scheduler();
  const Time until = to_time(deadline);
  Parker& parker = parker_;
  const Scheduler::TaskId alarm = scheduler.at(until, node_ + ": the arbiter's client's deadline",
                                               [&parker] { parker.wake(); });
  bool came = false;
  for (;;) {
    // What came by the deadline is taken, as poll reports a socket ready before a timeout.
    came = ready();
    if (came || parker_.now() >= until || parker_.stopping()) break;
    parker_.park();
  }
  scheduler.cancel(alarm);
  if (!came && parker_.stopping()) throw WireError("this process is stopping");
  return came;
}

void SimLineWire::at_my_time(const std::string& what, std::function<void()> action) {
  Scheduler& scheduler = network_.scheduler();
  if (parker_.now() <= scheduler.now()) {
    action();
  } else {
    scheduler.at(parker_.now(), node_ + ": " + what, std::move(action));
  }
}

arbiter::LineWire::Status SimLineWire::connect(const std::string& host, const std::string& port,
                                               TimePoint deadline) {
  close();
  if (parker_.stopping()) throw WireError("this process is stopping");
  uint16_t number = 0;
  const auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), number);
  if (ec != std::errc() || end != port.data() + port.size()) {
    throw WireError("no such port: " + port);
  }
  const Time left = to_time(deadline) - parker_.now();
  if (left <= Time(0)) return Status::kTimedOut;
  auto attempt = std::make_shared<Attempt>();
  attempt->parker = &parker_;
  at_my_time("connects to " + host, [this, host, number, left, attempt] {
    network_.connect(node_, host, number, left,
                     [attempt](std::shared_ptr<Connection> connection, const std::string& error) {
                       if (attempt->abandoned) {
                         if (connection) connection->close();
                         return;
                       }
                       attempt->done = true;
                       attempt->error = error;
                       if (connection) {
                         // Handlers now, in this task: nothing the peer sends is missed.
                         auto inbox = std::make_shared<Inbox>();
                         Parker* parker = attempt->parker;
                         connection->on_message([inbox, parker](Message message) {
                           inbox->bytes.append(message.begin(), message.end());
                           parker->wake();
                         });
                         connection->on_closed([inbox, parker](const std::string&) {
                           inbox->closed = true;
                           parker->wake();
                         });
                         attempt->connection = std::move(connection);
                         attempt->inbox = std::move(inbox);
                       }
                       attempt->parker->wake();
                     });
  });
  bool came = false;
  try {
    came = wait(deadline, [&] { return attempt->done; });
  } catch (const WireError&) {
    attempt->abandoned = true;
    throw;
  }
  if (!came) {
    attempt->abandoned = true;
    return Status::kTimedOut;
  }
  if (!attempt->connection) {
    if (attempt->error == "timed out") return Status::kTimedOut;
    throw WireError("cannot connect: " + attempt->error);
  }
  connection_ = std::move(attempt->connection);
  inbox_ = std::move(attempt->inbox);
  return Status::kDone;
}

arbiter::LineWire::Status SimLineWire::send_line(const std::string& line, TimePoint) {
  if (!connection_ || inbox_->closed) return Status::kClosed;
  Message message(line.begin(), line.end());
  message.push_back('\n');
  at_my_time("sends a line to " + connection_->peer_node(),
             [connection = connection_, message = std::move(message)]() mutable {
               connection->send(std::move(message));
             });
  return Status::kDone;
}

arbiter::LineWire::Line SimLineWire::receive_line(TimePoint deadline, size_t max_bytes) {
  if (!connection_) return {.status = Status::kClosed};
  Inbox& inbox = *inbox_;
  if (!wait(deadline,
            [&] { return inbox.closed || inbox.bytes.find('\n') != std::string::npos; })) {
    return {.status = Status::kTimedOut};
  }
  const size_t newline = inbox.bytes.find('\n');
  if (newline == std::string::npos) {
    if (inbox.bytes.empty()) return {.status = Status::kClosed};
    throw WireError("closed the connection in the middle of a reply");
  }
  if (newline > max_bytes) {
    throw WireError("sent a reply line longer than " + std::to_string(max_bytes) + " bytes");
  }
  // As the real wire, what came after the line is dropped with it.
  Line line{Status::kDone, inbox.bytes.substr(0, newline), newline + 1 != inbox.bytes.size()};
  inbox.bytes.clear();
  if (!line.text.empty() && line.text.back() == '\r') line.text.pop_back();
  return line;
}

void SimLineWire::close() {
  if (!connection_) return;
  at_my_time("closes its connection to " + connection_->peer_node(),
             [connection = connection_] { connection->close(); });
  connection_.reset();
  inbox_.reset();
}

}  // namespace vmft::sim
