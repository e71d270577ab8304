// vmft-incr-client: INCRs one key of the counter guest over and over (RESP over TCP, or one
// command per UDP datagram), reconnecting whenever the server goes away, for a fixed time.
// It checks what a client of a fault-tolerant server may expect: every reply is a number, and
// no reply is lower than one it already saw. It prints its progress, and at the end the number
// of acknowledged INCRs, the highest value seen, and the longest time without a reply (across a
// failover: the time the client waited for the backup to take over). With --report-gaps-over MS
// it also prints every wait longer than MS as it ends, with its start and end in wall-clock
// (CLOCK_REALTIME) milliseconds since the epoch and whether its reply came on a new connection,
// so that a script can find the first reply a backup served after it killed the primary.
// SIGINT or SIGTERM ends the run early, with the summary.
//
// With --one-connection (TCP only) it opens one connection and never reconnects or resends: a
// failed connect, a reset, a close by the server, or no reply within 10 s is a failure, said as
// such. A failover must then be invisible but for a pause, as with a server on the frame NIC
// (vmft --tap), whose guest owns its TCP connections. SIGINT or SIGTERM ends the run after the
// reply to the INCR in flight, and the summary adds the INCRs sent and answered: equal, so the
// counter (if only this client INCRs it) must hold exactly that many.
//
// usage: vmft-incr-client (--tcp|--udp) HOST:PORT [--key K] [--seconds S] [--progress S]
//                         [--report-gaps-over MS] [--one-connection]
// Exit: 0 when every check held, 1 when a reply was wrong or went backwards (or, with
// --one-connection, the connection failed), 2 for bad usage.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  bool udp = false;
  sockaddr_in server{};
  std::string key = "demo";
  double seconds = 10;
  double progress = 1;
  std::optional<double> report_gaps_over;  // milliseconds
  bool one_connection = false;             // never reconnect: a broken connection fails the run
};

// How long --one-connection waits for a reply before it calls the connection dead.
constexpr int kOneConnectionReplySeconds = 10;

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "vmft-incr-client: %s\nusage: vmft-incr-client (--tcp|--udp) HOST:PORT [--key K] "
               "[--seconds S] [--progress S] [--report-gaps-over MS] [--one-connection]\n",
               why);
  std::exit(2);
}

sockaddr_in parse_address(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos) usage("an address is HOST:PORT");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  std::string host = text.substr(0, colon);
  if (host == "localhost") host = "127.0.0.1";
  if (inet_pton(AF_INET, host.c_str(), &a.sin_addr) != 1) usage("HOST must be an IPv4 address");
  const int port = std::atoi(text.c_str() + colon + 1);
  if (port <= 0 || port > 65535) usage("PORT must be 1..65535");
  a.sin_port = htons(static_cast<uint16_t>(port));
  return a;
}

Options parse(int argc, char** argv) {
  Options o;
  bool have_address = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((arg + " needs a value").c_str());
      return argv[++i];
    };
    if (arg == "--tcp" || arg == "--udp") {
      o.udp = arg == "--udp";
      o.server = parse_address(value());
      have_address = true;
    } else if (arg == "--key") {
      o.key = value();
    } else if (arg == "--seconds") {
      o.seconds = std::atof(value().c_str());
    } else if (arg == "--progress") {
      o.progress = std::atof(value().c_str());
    } else if (arg == "--report-gaps-over") {
      o.report_gaps_over = std::atof(value().c_str());
    } else if (arg == "--one-connection") {
      o.one_connection = true;
    } else {
      usage(("unknown argument " + arg).c_str());
    }
  }
  if (!have_address) usage("give --tcp or --udp");
  if (o.seconds <= 0) usage("--seconds must be positive");
  if (o.report_gaps_over && *o.report_gaps_over < 0) usage("--report-gaps-over must be >= 0");
  if (o.one_connection && o.udp) usage("--one-connection needs --tcp");
  return o;
}

// One connection to the server; a failed one is closed and replaced on the next request. With
// --one-connection it is never replaced: failure() then says what broke it.
class Connection {
 public:
  explicit Connection(const Options& o) : o_(o) {}
  ~Connection() { close(); }

  /// How many connections have been opened so far: a change between two replies means the
  /// second came on a new connection (after a failover, from the new server).
  long opened() const { return opened_; }
  /// How many INCRs were sent whole.
  long sent() const { return sent_; }
  /// With --one-connection, what ended the connection (empty while it holds).
  const std::string& failure() const { return failure_; }

  // The reply to one INCR, or nullopt when the server did not answer (it is gone, or a UDP
  // datagram was lost): the caller tries again, unless failure() says the one connection broke.
  std::optional<std::string> incr() {
    if (!failure_.empty() || (fd_ < 0 && !open())) return std::nullopt;
    const std::string request =
        o_.udp ? "INCR " + o_.key + "\r\n"
               : "*2\r\n$4\r\nINCR\r\n$" + std::to_string(o_.key.size()) + "\r\n" + o_.key + "\r\n";
    if (o_.one_connection ? !send_all(request)
                          : ::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
                                static_cast<ssize_t>(request.size())) {
      close();
      return std::nullopt;
    }
    ++sent_;
    std::string reply;
    char buf[256];
    const auto give_up = Clock::now() + std::chrono::seconds(kOneConnectionReplySeconds);
    while (reply.find("\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n > 0) {
        reply.append(buf, static_cast<size_t>(n));
        continue;
      }
      const int error = errno;
      if (o_.one_connection) {
        // The receive timeout and signals only wake it: the one connection waits on for the
        // reply (through a failover), and a stop comes after it.
        const bool waiting = n < 0 && (error == EAGAIN || error == EWOULDBLOCK || error == EINTR);
        if (waiting && Clock::now() < give_up) continue;
        fail(n == 0    ? "the server closed the connection"
             : waiting ? "no reply in " + std::to_string(kOneConnectionReplySeconds) + " s"
                       : std::string("the connection failed: ") + std::strerror(error));
      }
      close();
      return std::nullopt;
    }
    return reply.substr(0, reply.find("\r\n"));
  }

 private:
  bool open() {
    if (o_.one_connection && opened_ > 0) return fail("the connection is gone");
    fd_ = ::socket(AF_INET, o_.udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd_ < 0) return o_.one_connection && fail(std::string("socket: ") + std::strerror(errno));
    ++opened_;
    // A reply this late counts as lost; the request is sent again (an INCR that was applied
    // without its reply arriving just counts once more, which the checks allow). With
    // --one-connection the timeout only wakes the wait.
    timeval tv{0, 200000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    if (!o_.udp) setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&o_.server), sizeof o_.server) != 0) {
      const int error = errno;
      close();
      if (o_.one_connection) fail(std::string("could not connect: ") + std::strerror(error));
      return false;
    }
    return true;
  }
  // With --one-connection: sends all of request, through partial sends and signals, or fails.
  bool send_all(const std::string& request) {
    for (size_t done = 0; done < request.size();) {
      const ssize_t n = ::send(fd_, request.data() + done, request.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return fail(std::string("sending an INCR failed: ") + std::strerror(errno));
      done += static_cast<size_t>(n);
    }
    return true;
  }
  // Notes why the one connection ended; always false.
  bool fail(const std::string& why) {
    if (failure_.empty()) failure_ = why;
    return false;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  const Options& o_;
  int fd_ = -1;
  long opened_ = 0;
  long sent_ = 0;
  std::string failure_;
};

double ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// Wall-clock milliseconds since the epoch, comparable with a script's `date +%s%N` or bash's
// EPOCHREALTIME; the steady clock measures the gaps themselves.
double wall_ms() {
  return std::chrono::duration<double, std::milli>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

volatile std::sig_atomic_t stop_requested = 0;

}  // namespace

int main(int argc, char** argv) {
  const Options o = parse(argc, argv);
  // SIGINT or SIGTERM ends the run early, with the summary (a demo stops it when it is done).
  struct sigaction stop {};
  stop.sa_handler = [](int) { stop_requested = 1; };
  sigaction(SIGINT, &stop, nullptr);
  sigaction(SIGTERM, &stop, nullptr);
  Connection conn(o);
  const auto start = Clock::now();
  const auto end =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
  auto last_reply = start, next_progress = start;
  double last_reply_wall = o.report_gaps_over ? wall_ms() : 0;
  long last_reply_opened = 0;
  Clock::duration longest_gap{};
  double longest_gap_at = 0;
  long acked = 0, highest = 0;
  for (auto now = start; now < end && !stop_requested; now = Clock::now()) {
    if (now >= next_progress) {
      std::printf("incr-client: %6.2f s: %ld INCRs acknowledged, value %ld\n",
                  std::chrono::duration<double>(now - start).count(), acked, highest);
      std::fflush(stdout);
      next_progress +=
          std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.progress));
    }
    const auto reply = conn.incr();
    if (!reply && !conn.failure().empty()) {
      std::printf("incr-client: FAILED: %s, after %ld INCRs sent on one connection, %ld answered\n",
                  conn.failure().c_str(), conn.sent(), acked);
      return 1;
    }
    if (!reply) {
      usleep(1000);  // the server is away: do not spin while it comes back
      continue;
    }
    const auto got = Clock::now();
    const double got_wall = o.report_gaps_over ? wall_ms() : 0;
    if (reply->empty() || (*reply)[0] != ':') {
      std::printf("incr-client: FAILED: INCR %s answered '%s'\n", o.key.c_str(), reply->c_str());
      return 1;
    }
    const long value = std::atol(reply->c_str() + 1);
    if (value <= highest) {
      std::printf("incr-client: FAILED: INCR answered %ld after %ld: the value went backwards\n",
                  value, highest);
      return 1;
    }
    if (o.report_gaps_over) {
      if (ms(got - last_reply) > *o.report_gaps_over) {
        std::printf(
            "incr-client: gap %.3f ms without a reply, from %.3f to %.3f ms since the "
            "epoch (CLOCK_REALTIME)%s\n",
            ms(got - last_reply), last_reply_wall, got_wall,
            conn.opened() != last_reply_opened ? ", on a new connection" : "");
        std::fflush(stdout);
      }
      last_reply_wall = got_wall;
      last_reply_opened = conn.opened();
    }
    if (got - last_reply > longest_gap) {
      longest_gap = got - last_reply;
      longest_gap_at = std::chrono::duration<double>(last_reply - start).count();
    }
    last_reply = got;
    highest = value;
    ++acked;
  }
  // A server that stopped answering for good shows as a wait that lasts to the end.
  if (Clock::now() - last_reply > longest_gap) {
    longest_gap = Clock::now() - last_reply;
    longest_gap_at = std::chrono::duration<double>(last_reply - start).count();
  }
  if (acked == 0) {
    std::printf("incr-client: FAILED: no INCR was answered\n");
    return 1;
  }
  std::printf(
      "incr-client: done: %ld INCRs acknowledged, highest value %ld, never backwards; "
      "longest wait for a reply %.1f ms (after %.2f s)\n",
      acked, highest, ms(longest_gap), longest_gap_at);
  if (o.one_connection) {
    std::printf("incr-client: one connection throughout: %ld INCRs sent, %ld answered\n",
                conn.sent(), acked);
  }
  return 0;
}
