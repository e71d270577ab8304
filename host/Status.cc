#include "vmft/host/Status.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>
#include <stdexcept>
#include <unordered_set>

#include "vmft/arbiter/Arbiter.h"
#include "vmft/ft/ExitCodes.h"

namespace vmft::host {

namespace {

using asio::ip::tcp;

// A request line and its headers fit in this; a scraper's are a few hundred bytes.
constexpr size_t kMaxRequestBytes = 8192;
// A client that has not sent its request by then is closed.
constexpr auto kRequestTimeout = std::chrono::seconds(5);
// Connections served at once; more wait in the listen backlog. Scrapers come one at a time.
constexpr size_t kMaxConnections = 64;

// A Prometheus label value: backslash, double quote and newline escaped.
std::string label(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void metric(std::string& out, const char* name, const char* type, const char* help, double value) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n{} {}\n", name, help, name, type, name, value);
}

}  // namespace

std::string format_metrics(const SideStatus& s) {
  std::string out;
  out += "# HELP vmft_info The side of a pair this process is (always 1).\n";
  out += "# TYPE vmft_info gauge\n";
  out += fmt::format("vmft_info{{pair=\"{}\",id=\"{}\",role=\"{}\",state=\"{}\"}} 1\n",
                     label(s.pair), label(s.id), label(s.role), label(s.state));
  metric(out, "vmft_epoch", "gauge", "The pair's epoch at the arbiter as this side knows it.",
         s.epoch);
  metric(out, "vmft_instructions_total", "counter", "Guest instructions this side has run.",
         s.instructions);
  metric(out, "vmft_log_records_total", "counter",
         "Log records sent (live side) or received (backup).", s.log_seq);
  metric(out, "vmft_log_records_acknowledged_total", "counter",
         "Log records the backup has acknowledged.", s.log_acked);
  metric(out, "vmft_backup_in_sync", "gauge",
         "1 while a backup follows the log (on a backup: while it follows its primary).",
         s.has_peer ? 1 : 0);
  metric(out, "vmft_backup_lag_instructions", "gauge",
         "Instructions the backup trails the live side by.", s.lag_instructions);
  metric(out, "vmft_backup_lag_records", "gauge", "Log records the backup has not acknowledged.",
         s.lag_records);
  metric(out, "vmft_outputs_held", "gauge", "Outputs waiting for the backup's acknowledgement.",
         s.outputs_held);
  metric(out, "vmft_outputs_held_bytes", "gauge", "Bytes of the outputs waiting.",
         s.outputs_held_bytes);
  metric(out, "vmft_outputs_held_oldest_seconds", "gauge",
         "How long the oldest output waiting has waited.", s.oldest_output_held_seconds);
  metric(out, "vmft_log_bytes_sent_total", "counter", "Bytes sent on the logging channel.",
         s.log_bytes_sent);
  metric(out, "vmft_log_bytes_received_total", "counter", "Bytes received on the logging channel.",
         s.log_bytes_received);
  metric(out, "vmft_failovers_total", "counter", "Times this process went live as a backup.",
         s.failovers);
  metric(out, "vmft_joins_total", "counter", "Backups that joined this side.", s.joins);
  if (s.arbiter_reachable) {
    metric(out, "vmft_arbiter_reachable", "gauge", "1 if the arbiter answered the last probe.",
           *s.arbiter_reachable ? 1 : 0);
  }
  if (s.client_connections) {
    metric(out, "vmft_client_connections", "gauge", "TCP clients connected to this side.",
           *s.client_connections);
  }
  return out;
}

std::string format_status_json(const SideStatus& s) {
  nlohmann::json j = {{"pair", s.pair},
                      {"id", s.id},
                      {"role", s.role},
                      {"state", s.state},
                      {"epoch", s.epoch},
                      {"instructions", s.instructions},
                      {"log_seq", s.log_seq},
                      {"log_acked", s.log_acked},
                      {"has_peer", s.has_peer},
                      {"lag_instructions", s.lag_instructions},
                      {"lag_records", s.lag_records},
                      {"outputs_held", s.outputs_held},
                      {"outputs_held_bytes", s.outputs_held_bytes},
                      {"oldest_output_held_seconds", s.oldest_output_held_seconds},
                      {"log_bytes_sent", s.log_bytes_sent},
                      {"log_bytes_received", s.log_bytes_received},
                      {"failovers", s.failovers},
                      {"joins", s.joins},
                      {"arbiter", s.arbiter}};
  j["arbiter_reachable"] =
      s.arbiter_reachable ? nlohmann::json(*s.arbiter_reachable) : nlohmann::json(nullptr);
  j["client_connections"] =
      s.client_connections ? nlohmann::json(*s.client_connections) : nlohmann::json(nullptr);
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

SideStatus parse_status_json(std::string_view text) {
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("the status is not JSON: ") + e.what());
  }
  SideStatus s;
  try {
    s.pair = j.at("pair").get<std::string>();
    s.id = j.at("id").get<std::string>();
    s.role = j.at("role").get<std::string>();
    s.state = j.at("state").get<std::string>();
    s.epoch = j.at("epoch").get<uint64_t>();
    s.instructions = j.at("instructions").get<uint64_t>();
    s.log_seq = j.at("log_seq").get<uint64_t>();
    s.log_acked = j.at("log_acked").get<uint64_t>();
    s.has_peer = j.at("has_peer").get<bool>();
    s.lag_instructions = j.at("lag_instructions").get<uint64_t>();
    s.lag_records = j.at("lag_records").get<uint64_t>();
    s.outputs_held = j.at("outputs_held").get<uint64_t>();
    s.outputs_held_bytes = j.at("outputs_held_bytes").get<uint64_t>();
    s.oldest_output_held_seconds = j.at("oldest_output_held_seconds").get<double>();
    s.log_bytes_sent = j.at("log_bytes_sent").get<uint64_t>();
    s.log_bytes_received = j.at("log_bytes_received").get<uint64_t>();
    s.failovers = j.at("failovers").get<uint64_t>();
    s.joins = j.at("joins").get<uint64_t>();
    s.arbiter = j.at("arbiter").get<std::string>();
    if (!j.at("arbiter_reachable").is_null()) {
      s.arbiter_reachable = j.at("arbiter_reachable").get<bool>();
    }
    if (!j.at("client_connections").is_null()) {
      s.client_connections = j.at("client_connections").get<uint64_t>();
    }
  } catch (const nlohmann::json::exception& e) {
    throw std::runtime_error(std::string("the status lacks a field or has a bad one: ") + e.what());
  }
  return s;
}

std::string describe_status(const SideStatus& s) {
  std::string out = fmt::format("pair '{}', {}: {} ({}), id {}\n", s.pair,
                                s.epoch ? fmt::format("epoch {}", s.epoch) : "no epoch yet", s.role,
                                s.state, s.id);
  out += fmt::format("instruction {}\n", s.instructions);
  if (s.role == "backup") {
    out += fmt::format("log: record #{} received, #{} acknowledged; {} behind the primary\n",
                       s.log_seq, s.log_acked, fmt::format("{} instructions", s.lag_instructions));
  } else if (s.has_peer) {
    out += fmt::format(
        "log: record #{} sent, #{} acknowledged; the backup trails by {} instructions and {} "
        "records\n",
        s.log_seq, s.log_acked, s.lag_instructions, s.lag_records);
  } else {
    out += "no backup\n";
  }
  out += fmt::format("outputs held: {} ({} bytes, oldest {:.1f} ms)\n", s.outputs_held,
                     s.outputs_held_bytes, s.oldest_output_held_seconds * 1e3);
  out += fmt::format("logging channel: {} bytes sent, {} received\n", s.log_bytes_sent,
                     s.log_bytes_received);
  out += fmt::format("failovers {}, joins {}\n", s.failovers, s.joins);
  if (s.arbiter.empty()) {
    out += "no arbiter\n";
  } else {
    out += fmt::format("arbiter {}: {}\n", s.arbiter,
                       !s.arbiter_reachable   ? "not probed yet"
                       : *s.arbiter_reachable ? "reachable"
                                              : "NOT reachable");
  }
  if (s.client_connections) out += fmt::format("client connections: {}\n", *s.client_connections);
  return out;
}

// ------------------------------------------------------------------ the server

struct detail::StatusShared {
  std::function<SideStatus()> snapshot;
  std::unordered_set<tcp::socket*> open;
  bool stopped = false;
};

namespace {

std::string http_reply(const char* status, const char* type, const std::string& body) {
  return fmt::format(
      "HTTP/1.0 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
      status, type, body.size(), body);
}

// The reply to a request's first line.
std::string answer(const std::string& request_line, const std::function<SideStatus()>& snapshot) {
  const size_t first = request_line.find(' ');
  const size_t second = request_line.find(' ', first + 1);
  if (first == std::string::npos) {
    return http_reply("400 Bad Request", "text/plain", "bad request\n");
  }
  const std::string method = request_line.substr(0, first);
  std::string path = request_line.substr(
      first + 1, second == std::string::npos ? std::string::npos : second - first - 1);
  if (const size_t query = path.find('?'); query != std::string::npos) path.resize(query);
  if (method != "GET" && method != "HEAD") {
    return http_reply("405 Method Not Allowed", "text/plain", "only GET\n");
  }
  std::string reply;
  if (path == "/metrics") {
    reply = http_reply("200 OK", "text/plain; version=0.0.4; charset=utf-8",
                       format_metrics(snapshot()));
  } else if (path == "/status") {
    reply = http_reply("200 OK", "application/json", format_status_json(snapshot()));
  } else {
    return http_reply("404 Not Found", "text/plain", "try /metrics or /status\n");
  }
  if (method == "HEAD") reply.resize(reply.find("\r\n\r\n") + 4);
  return reply;
}

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(tcp::socket socket, std::shared_ptr<detail::StatusShared> shared)
      : socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        request_(kMaxRequestBytes),
        shared_(std::move(shared)) {
    shared_->open.insert(&socket_);
  }
  ~Connection() { shared_->open.erase(&socket_); }

  void start() {
    timer_.expires_after(kRequestTimeout);
    timer_.async_wait([self = shared_from_this()](const asio::error_code& ec) {
      if (!ec) self->close();
    });
    asio::async_read_until(
        socket_, request_, "\r\n\r\n",
        [self = shared_from_this()](const asio::error_code& ec, size_t) { self->on_request(ec); });
  }

 private:
  void on_request(const asio::error_code& ec) {
    if (ec || shared_->stopped) return close();
    std::istream in(&request_);
    std::string line;
    std::getline(in, line);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    reply_ = answer(line, shared_->snapshot);
    asio::async_write(
        socket_, asio::buffer(reply_),
        [self = shared_from_this()](const asio::error_code&, size_t) { self->close(); });
  }

  void close() {
    asio::error_code ignored;
    timer_.cancel();
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  asio::streambuf request_;
  std::string reply_;
  std::shared_ptr<detail::StatusShared> shared_;
};

}  // namespace

StatusServer::StatusServer(asio::io_context& io, const tcp::endpoint& listen,
                           std::function<SideStatus()> snapshot)
    : acceptor_(io), shared_(std::make_shared<detail::StatusShared>()) {
  shared_->snapshot = std::move(snapshot);
  asio::error_code ec;
  acceptor_.open(listen.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(listen, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    throw std::system_error(ec, "cannot bind --status-listen " + listen.address().to_string() +
                                    ":" + std::to_string(listen.port()));
  }
  accept();
}

StatusServer::~StatusServer() {
  // The io thread has stopped by now: nothing of ours runs on it any more.
  shared_->stopped = true;
}

tcp::endpoint StatusServer::local_endpoint() const { return acceptor_.local_endpoint(); }

void StatusServer::accept() {
  acceptor_.async_accept([this, shared = shared_](const asio::error_code& ec, tcp::socket socket) {
    if (shared->stopped || ec == asio::error::operation_aborted) return;
    if (!ec) {
      if (shared->open.size() < kMaxConnections) {
        std::make_shared<Connection>(std::move(socket), shared)->start();
      }  // else: dropped, closing it; the scraper tries again
    }
    accept();
  });
}

// ------------------------------------------------------------------ the client

std::string fetch_status(const std::string& address, const std::string& path,
                         std::chrono::milliseconds timeout) {
  const auto where = arbiter::split_host_port(address, "status address");
  asio::io_context io;
  tcp::socket socket(io);
  tcp::resolver resolver(io);
  std::string response;
  std::string error;
  bool done = false;
  const std::string request = "GET " + path + " HTTP/1.0\r\nHost: " + where.host + "\r\n\r\n";
  std::array<char, 4096> chunk{};
  std::function<void()> read_more;
  read_more = [&] {
    socket.async_read_some(asio::buffer(chunk), [&](const asio::error_code& ec, size_t n) {
      response.append(chunk.data(), n);
      if (ec == asio::error::eof) {
        done = true;
      } else if (ec) {
        error = ec.message();
      } else {
        read_more();
      }
    });
  };
  resolver.async_resolve(where.host, where.port, [&](const asio::error_code& ec, auto results) {
    if (ec) {
      error = "cannot resolve " + where.host + ": " + ec.message();
      return;
    }
    asio::async_connect(socket, results, [&](const asio::error_code& ec2, const tcp::endpoint&) {
      if (ec2) {
        error = "cannot connect to " + address + ": " + ec2.message();
        return;
      }
      asio::async_write(socket, asio::buffer(request), [&](const asio::error_code& ec3, size_t) {
        if (ec3) {
          error = "cannot send to " + address + ": " + ec3.message();
          return;
        }
        read_more();
      });
    });
  });
  io.run_for(timeout);
  if (!error.empty()) throw std::runtime_error(error);
  if (!done) {
    throw std::runtime_error("no answer from " + address + " within " +
                             std::to_string(timeout.count()) + " ms");
  }
  const size_t body = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.") || body == std::string::npos) {
    throw std::runtime_error(address + " did not answer HTTP");
  }
  const std::string status_line = response.substr(0, response.find("\r\n"));
  if (status_line.find(" 200 ") == std::string::npos) {
    throw std::runtime_error(address + " answered " + status_line);
  }
  return response.substr(body + 4);
}

int print_status(const std::string& address, bool json, std::chrono::milliseconds timeout) {
  // A bad address, or a side that does not answer, ends the command through main (exit 2, 1).
  const std::string body = fetch_status(address, "/status", timeout);
  if (json) {
    fmt::print("{}", body);
    return ft::kOkExitCode;
  }
  try {
    fmt::print("{}", describe_status(parse_status_json(body)));
  } catch (const std::exception& e) {
    spdlog::error("{} answered something that is not a vmft status: {}", address, e.what());
    return ft::kStartFailedExitCode;
  }
  return ft::kOkExitCode;
}

}  // namespace vmft::host
