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
// usage: vmft-incr-client (--tcp|--udp) HOST:PORT [--key K] [--seconds S] [--progress S]
//                         [--report-gaps-over MS]
// Exit: 0 when every check held, 1 when a reply was wrong or went backwards, 2 for bad usage.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

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
};

[[noreturn]] void usage(const char* why) {
  std::fprintf(stderr,
               "vmft-incr-client: %s\nusage: vmft-incr-client (--tcp|--udp) HOST:PORT [--key K] "
               "[--seconds S] [--progress S] [--report-gaps-over MS]\n",
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
    } else {
      usage(("unknown argument " + arg).c_str());
    }
  }
  if (!have_address) usage("give --tcp or --udp");
  if (o.seconds <= 0) usage("--seconds must be positive");
  if (o.report_gaps_over && *o.report_gaps_over < 0) usage("--report-gaps-over must be >= 0");
  return o;
}

// One connection to the server; a failed one is closed and replaced on the next request.
class Connection {
 public:
  explicit Connection(const Options& o) : o_(o) {}
  ~Connection() { close(); }

  /// How many connections have been opened so far: a change between two replies means the
  /// second came on a new connection (after a failover, from the new server).
  long opened() const { return opened_; }

  // The reply to one INCR, or nullopt when the server did not answer (it is gone, or a UDP
  // datagram was lost): the caller tries again.
  std::optional<std::string> incr() {
    if (fd_ < 0 && !open()) return std::nullopt;
    const std::string request =
        o_.udp ? "INCR " + o_.key + "\r\n"
               : "*2\r\n$4\r\nINCR\r\n$" + std::to_string(o_.key.size()) + "\r\n" + o_.key + "\r\n";
    if (::send(fd_, request.data(), request.size(), MSG_NOSIGNAL) !=
        static_cast<ssize_t>(request.size())) {
      close();
      return std::nullopt;
    }
    std::string reply;
    char buf[256];
    while (reply.find("\r\n") == std::string::npos) {
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) {
        close();
        return std::nullopt;
      }
      reply.append(buf, static_cast<size_t>(n));
    }
    return reply.substr(0, reply.find("\r\n"));
  }

 private:
  bool open() {
    fd_ = ::socket(AF_INET, o_.udp ? SOCK_DGRAM : SOCK_STREAM, 0);
    if (fd_ < 0) return false;
    ++opened_;
    // A reply this late counts as lost; the request is sent again (an INCR that was applied
    // without its reply arriving just counts once more, which the checks allow).
    timeval tv{0, 200000};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int one = 1;
    if (!o_.udp) setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&o_.server), sizeof o_.server) != 0) {
      close();
      return false;
    }
    return true;
  }
  void close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  const Options& o_;
  int fd_ = -1;
  long opened_ = 0;
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
  return 0;
}
