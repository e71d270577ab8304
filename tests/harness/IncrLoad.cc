#include "IncrLoad.h"

#include <memory>
#include <stdexcept>

#include "NetClients.h"

namespace vmft::integration {

namespace {

// Between attempts to connect while nobody listens (the backup is taking over), so that a
// client does not spin.
constexpr Duration kReconnectPause{1};

}  // namespace

IncrLoad::IncrLoad(Transport transport, uint16_t port, std::string key, int clients)
    : port_(port), key_(std::move(key)), records_(static_cast<size_t>(clients)) {
  for (size_t i = 0; i < records_.size(); i++) {
    threads_.emplace_back([this, transport, i] {
      transport == Transport::kTcp ? run_tcp_client(i) : run_udp_client(i);
    });
  }
}

IncrLoad::~IncrLoad() { stop(); }

size_t IncrLoad::acknowledged() const {
  std::lock_guard lock(mutex_);
  return acknowledged_;
}

bool IncrLoad::wait_for_acknowledged(size_t count, Duration timeout) {
  std::unique_lock lock(mutex_);
  return acknowledged_changed_.wait_for(lock, scaled(timeout),
                                        [&] { return acknowledged_ >= count; });
}

std::vector<IncrClientRecord> IncrLoad::records() const {
  std::lock_guard lock(mutex_);
  return records_;
}

std::vector<IncrClientRecord> IncrLoad::stop() {
  stopping_ = true;
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
  std::lock_guard lock(mutex_);
  return records_;
}

void IncrLoad::record(size_t index, const std::string& reply) {
  std::lock_guard lock(mutex_);
  IncrClientRecord& r = records_[index];
  const bool number = reply.size() > 3 && reply.front() == ':' && reply.ends_with("\r\n") &&
                      reply.find_first_not_of("0123456789", 1) == reply.size() - 2;
  if (!number) {
    r.bad_replies.push_back(reply);
    return;
  }
  r.values.push_back(std::stoll(reply.substr(1)));
  acknowledged_++;
  acknowledged_changed_.notify_all();
}

void IncrLoad::run_tcp_client(size_t index) {
  const std::string request = "INCR " + key_ + "\r\n";
  std::unique_ptr<TcpClient> connection;
  while (!stopping_) {
    try {
      if (!connection) {
        connection = std::make_unique<TcpClient>(port_);
        connection->set_no_delay();
      }
      connection->send_all(request);
    } catch (const std::runtime_error&) {  // nobody listens, or the connection broke
      connection.reset();
      std::this_thread::sleep_for(kReconnectPause);
      continue;
    }
    const Received reply = connection->receive_line(kTcpRetryAfter);
    if (!reply.data.ends_with("\n")) {  // closed, or no reply in time: a late one must not count
      connection.reset();
      continue;
    }
    record(index, reply.data);
  }
}

void IncrLoad::run_udp_client(size_t index) {
  const std::string request = "INCR " + key_ + "\r\n";
  UdpClient client;
  while (!stopping_) {
    client.send_to(port_, request);
    // A reply that comes after the request was sent again answers the earlier send; it is
    // still the value of one INCR, and later ones can only be higher.
    if (const auto reply = client.receive(kUdpRetryAfter)) record(index, *reply);
  }
}

}  // namespace vmft::integration
