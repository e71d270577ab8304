// vmft-bench-echo-rtt: the round-trip time of a UDP echo service (scripts/bench). Sends
// datagrams one at a time to HOST:PORT, waits for each one's echo, and prints the p50, p99 and
// mean round trip in microseconds, leaving out a warm-up.
//
// Every datagram carries its sequence number and a pattern derived from it, so a reply that is
// late, lost, cut short or altered is caught: the bench stops loudly rather than measure it.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <stdexcept>
#include <string>
#include <vector>

namespace vmft::bench {
namespace {

constexpr int kFailed = 1;
constexpr int kUsage = 2;
// Room for the sequence number; the upper bound keeps a datagram within one loopback packet.
constexpr size_t kMinSize = 8;
constexpr size_t kMaxSize = 1400;

struct Options {
  sockaddr_in server{};
  std::string server_text;
  int count = 2000;
  int warmup = 200;
  size_t size = 64;
  int timeout_ms = 1000;
};

// A reply that is missing or wrong: the measurement is void.
struct EchoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

[[noreturn]] void usage(const std::string& why) {
  std::fprintf(stderr,
               "vmft-bench-echo-rtt: %s\n"
               "usage: vmft-bench-echo-rtt HOST:PORT [--count N] [--warmup N] [--size BYTES] "
               "[--timeout-ms MS]\n",
               why.c_str());
  std::exit(kUsage);
}

long parse_number(const std::string& flag, const char* text, long min, long max) {
  char* end = nullptr;
  errno = 0;
  const long value = std::strtol(text, &end, 10);
  if (errno != 0 || end == text || *end != '\0' || value < min || value > max) {
    usage(flag + " wants a number from " + std::to_string(min) + " to " + std::to_string(max) +
          ", not '" + text + "'");
  }
  return value;
}

sockaddr_in parse_server(const std::string& text) {
  const size_t colon = text.rfind(':');
  if (colon == std::string::npos) usage("'" + text + "' is not HOST:PORT");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  if (inet_pton(AF_INET, text.substr(0, colon).c_str(), &addr.sin_addr) != 1) {
    usage("'" + text.substr(0, colon) + "' is not an IPv4 address");
  }
  const std::string port = text.substr(colon + 1);
  addr.sin_port = htons(static_cast<uint16_t>(parse_number("the port", port.c_str(), 1, 65535)));
  return addr;
}

Options parse_options(int argc, char** argv) {
  Options options;
  if (argc < 2) usage("no HOST:PORT given");
  options.server_text = argv[1];
  options.server = parse_server(options.server_text);
  for (int i = 2; i < argc; i += 2) {
    const std::string flag = argv[i];
    if (i + 1 >= argc) usage(flag + " needs a value");
    const char* value = argv[i + 1];
    if (flag == "--count") {
      options.count = static_cast<int>(parse_number(flag, value, 1, 10'000'000));
    } else if (flag == "--warmup") {
      options.warmup = static_cast<int>(parse_number(flag, value, 0, 10'000'000));
    } else if (flag == "--size") {
      options.size = static_cast<size_t>(parse_number(flag, value, kMinSize, kMaxSize));
    } else if (flag == "--timeout-ms") {
      options.timeout_ms = static_cast<int>(parse_number(flag, value, 1, 600'000));
    } else {
      usage("unknown argument '" + flag + "'");
    }
  }
  return options;
}

// A UDP socket connected to the server, so only its datagrams are received and an ICMP
// "port unreachable" shows up as an error instead of a timeout.
class EchoSocket {
 public:
  explicit EchoSocket(const sockaddr_in& server) : fd_(socket(AF_INET, SOCK_DGRAM, 0)) {
    if (fd_ < 0) throw std::runtime_error(std::string("socket: ") + std::strerror(errno));
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&server), sizeof server) != 0) {
      const int err = errno;
      close(fd_);
      throw std::runtime_error(std::string("connect: ") + std::strerror(err));
    }
  }
  ~EchoSocket() { close(fd_); }
  EchoSocket(const EchoSocket&) = delete;
  EchoSocket& operator=(const EchoSocket&) = delete;

  void send_datagram(const std::vector<uint8_t>& bytes) {
    const ssize_t sent = send(fd_, bytes.data(), bytes.size(), 0);
    if (sent != static_cast<ssize_t>(bytes.size())) {
      throw EchoError(std::string("send: ") + (sent < 0 ? std::strerror(errno) : "cut short"));
    }
  }

  // Returns the reply's length; throws EchoError when none comes within timeout_ms.
  size_t receive_datagram(std::vector<uint8_t>& buffer, int timeout_ms, uint64_t seq) {
    pollfd pfd{fd_, POLLIN, 0};
    const int ready = poll(&pfd, 1, timeout_ms);
    if (ready < 0) throw EchoError(std::string("poll: ") + std::strerror(errno));
    if (ready == 0) {
      throw EchoError("no reply to datagram " + std::to_string(seq) + " within " +
                      std::to_string(timeout_ms) + " ms");
    }
    const ssize_t got = recv(fd_, buffer.data(), buffer.size(), MSG_TRUNC);
    if (got < 0) {
      throw EchoError("receiving the reply to datagram " + std::to_string(seq) + ": " +
                      std::strerror(errno));
    }
    return static_cast<size_t>(got);
  }

 private:
  int fd_;
};

void fill_datagram(std::vector<uint8_t>& bytes, uint64_t seq) {
  std::memcpy(bytes.data(), &seq, sizeof seq);
  for (size_t i = sizeof seq; i < bytes.size(); ++i) bytes[i] = static_cast<uint8_t>(seq * 31 + i);
}

// One datagram there and back; returns the round trip in microseconds.
double round_trip(EchoSocket& sock, const Options& options, uint64_t seq) {
  std::vector<uint8_t> sent(options.size);
  std::vector<uint8_t> reply(kMaxSize + 1);
  fill_datagram(sent, seq);
  const auto start = std::chrono::steady_clock::now();
  sock.send_datagram(sent);
  const size_t got = sock.receive_datagram(reply, options.timeout_ms, seq);
  const auto end = std::chrono::steady_clock::now();
  if (got != sent.size() || !std::equal(sent.begin(), sent.end(), reply.begin())) {
    throw EchoError("the reply to datagram " + std::to_string(seq) +
                    " is wrong: " + std::to_string(got) + " bytes, expected the " +
                    std::to_string(sent.size()) + " sent");
  }
  return std::chrono::duration<double, std::micro>(end - start).count();
}

// Nearest rank: the smallest sample with at least fraction of all samples at or below it.
double percentile(const std::vector<double>& sorted, double fraction) {
  const auto rank = static_cast<size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int run(const Options& options) {
  EchoSocket sock(options.server);
  uint64_t seq = 0;
  for (int i = 0; i < options.warmup; ++i) round_trip(sock, options, seq++);
  std::vector<double> samples;
  samples.reserve(options.count);
  for (int i = 0; i < options.count; ++i) samples.push_back(round_trip(sock, options, seq++));
  std::sort(samples.begin(), samples.end());
  const double mean = std::accumulate(samples.begin(), samples.end(), 0.0) / samples.size();
  std::printf(
      "echo rtt to %s: %d round trips of %zu bytes after %d warm-up: p50 %.1f us, "
      "p99 %.1f us, mean %.1f us\n",
      options.server_text.c_str(), options.count, options.size, options.warmup,
      percentile(samples, 0.50), percentile(samples, 0.99), mean);
  return 0;
}

}  // namespace
}  // namespace vmft::bench

int main(int argc, char** argv) {
  const vmft::bench::Options options = vmft::bench::parse_options(argc, argv);
  try {
    return vmft::bench::run(options);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmft-bench-echo-rtt: %s: %s\n", options.server_text.c_str(), e.what());
    return vmft::bench::kFailed;
  }
}
