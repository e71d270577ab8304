#include "vmft/arbiter/ArbiterClient.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <utility>

#include "Protocol.h"
#include "vmft/arbiter/Rules.h"

namespace vmft::arbiter {

namespace {

using Clock = std::chrono::steady_clock;
using detail::Request;

int milliseconds_until(Clock::time_point deadline) {
  const auto left = deadline - Clock::now();
  if (left <= Clock::duration::zero()) return 0;
  return static_cast<int>(std::chrono::ceil<std::chrono::milliseconds>(left).count());
}

// Waits until `fd` is ready for `events` (or has an error, which the next call on it reports);
// false if the deadline passes first.
bool wait_until_ready(int fd, short events, Clock::time_point deadline) {
  for (;;) {
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, milliseconds_until(deadline));
    if (n > 0) return true;
    if (n == 0) return false;
    if (errno != EINTR) return true;
  }
}

std::string error_text(int err) { return std::strerror(err); }

// Runs a reply parser, naming the arbiter in what it throws.
template <typename Parse>
auto interpret(const std::string& address, const Parse& parse) {
  try {
    return parse();
  } catch (const detail::ErrorReply& e) {
    throw ArbiterUnavailable("arbiter " + address + " answered: " + e.what());
  } catch (const ArbiterUnavailable& e) {
    throw ArbiterUnavailable("arbiter " + address + ": " + e.what());
  }
}

}  // namespace

ArbiterClient::ArbiterClient(const std::string& address, std::chrono::milliseconds timeout,
                             std::string secret)
    : address_(address), timeout_(timeout), secret_(std::move(secret)) {
  HostPort split = split_host_port(address, "arbiter address");
  host_ = std::move(split.host);
  port_ = std::move(split.port);
}

ArbiterClient::~ArbiterClient() { disconnect(); }

ArbiterState ArbiterClient::read(const std::string& pair) {
  check_pair_name(pair);
  std::lock_guard lock(mutex_);
  const std::string reply = call(detail::format_request({Request::Op::kRead, pair, 0, {}}));
  return interpret(address_, [&] { return detail::parse_state_reply(reply); });
}

RegisterResult ArbiterClient::register_epoch(const std::string& pair, uint64_t expected_epoch,
                                             const std::string& id) {
  check_pair_name(pair);
  check_holder_id(id);
  std::lock_guard lock(mutex_);
  const std::string reply =
      call(detail::format_request({Request::Op::kRegister, pair, expected_epoch, id}));
  // Refused because our own registration, retried after its reply was lost, already happened.
  return count_repeated_registration(
      interpret(address_, [&] { return detail::parse_register_reply(reply, id); }), expected_epoch,
      id);
}

TasResult ArbiterClient::test_and_set(const std::string& pair, uint64_t epoch,
                                      const std::string& id) {
  check_pair_name(pair);
  check_holder_id(id);
  std::lock_guard lock(mutex_);
  const std::string reply =
      call(detail::format_request({Request::Op::kTestAndSet, pair, epoch, id}));
  return interpret(address_, [&] { return detail::parse_tas_reply(reply, id); });
}

ReleaseResult ArbiterClient::release(const std::string& pair, uint64_t epoch,
                                     const std::string& id) {
  check_pair_name(pair);
  check_holder_id(id);
  std::lock_guard lock(mutex_);
  const std::string reply = call(detail::format_request({Request::Op::kRelease, pair, epoch, id}));
  return interpret(address_, [&] { return detail::parse_release_reply(reply, epoch); });
}

Arbiter::PairList ArbiterClient::list(size_t max) {
  std::lock_guard lock(mutex_);
  const std::string reply =
      call(detail::format_request({Request::Op::kList, {}, 0, {}}), detail::kMaxListReplyBytes);
  PairList list = interpret(address_, [&] { return detail::parse_list_reply(reply); });
  if (list.names.size() > max) list.names.resize(max);
  return list;
}

std::string ArbiterClient::call(const std::string& request, size_t max_reply) {
  const auto deadline = Clock::now() + timeout_;
  const bool kept = fd_ >= 0;
  if (!kept) connect(deadline);
  std::string reply;
  if (try_call(request, deadline, max_reply, reply)) return reply;
  disconnect();
  if (kept) {
    connect(deadline);
    if (try_call(request, deadline, max_reply, reply)) return reply;
  }
  fail("the arbiter closed the connection without replying");
}

bool ArbiterClient::try_call(const std::string& request, Clock::time_point deadline,
                             size_t max_reply, std::string& reply) {
  if (!send_line(request, deadline)) return false;
  if (!receive_line(deadline, "no reply", reply, "", max_reply)) return false;
  if (reply.starts_with("CHALLENGE")) {
    fail("the arbiter requires a secret: give --secret-file (the file `vmft arbiter` has)");
  }
  return true;
}

bool ArbiterClient::send_line(const std::string& text, Clock::time_point deadline) {
  const std::string line = text + "\n";
  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd_, line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n >= 0) {
      sent += static_cast<size_t>(n);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_until_ready(fd_, POLLOUT, deadline)) {
        fail("could not send within " + std::to_string(timeout_.count()) + " ms");
      }
    } else if (errno == EPIPE || errno == ECONNRESET) {
      return false;
    } else if (errno != EINTR) {
      fail("cannot send: " + error_text(errno));
    }
  }
  return true;
}

bool ArbiterClient::receive_line(Clock::time_point deadline, const char* what, std::string& line,
                                 const char* why_silent, size_t max_bytes) {
  std::string received;
  char buf[4096];
  for (;;) {
    const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n > 0) {
      received.append(buf, static_cast<size_t>(n));
      const size_t newline = received.find('\n');
      if (newline != std::string::npos) {
        // A client without the secret reads the challenge first, and may have the ERR that
        // answers its request behind it.
        if (newline + 1 != received.size() && !received.starts_with("CHALLENGE")) {
          fail("sent more than one reply line");
        }
        received.resize(newline);
        if (!received.empty() && received.back() == '\r') received.pop_back();
        line = std::move(received);
        return true;
      }
      if (received.size() > max_bytes) {
        fail("sent a reply line longer than " + std::to_string(max_bytes) + " bytes");
      }
    } else if (n == 0 || errno == ECONNRESET) {
      if (received.empty()) return false;
      fail("closed the connection in the middle of a reply");
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (!wait_until_ready(fd_, POLLIN, deadline)) {
        fail(std::string(what) + " within " + std::to_string(timeout_.count()) + " ms" +
             why_silent);
      }
    } else if (errno != EINTR) {
      fail("cannot receive: " + error_text(errno));
    }
  }
}

// A new connection, with a secret: the arbiter's challenge, our answer and nonce, and its
// proof that it knows the secret too.
void ArbiterClient::authenticate(Clock::time_point deadline) {
  std::string line;
  // A silent arbiter is usually one that cannot answer at all (stopped, overloaded, cut off
  // after it accepted); one that runs without --secret-file is silent too, waiting for a request.
  if (!receive_line(deadline, "no challenge", line,
                    ": it does not answer (stopped, overloaded or cut off), or it runs without "
                    "--secret-file")) {
    fail("closed the connection before its challenge");
  }
  auth::Nonce challenge;
  try {
    challenge = detail::parse_challenge(line);
  } catch (const ArbiterUnavailable& e) {
    fail(e.what());
  }
  const auth::Nonce mine = auth::make_nonce();
  if (!send_line(detail::format_auth_request(detail::client_proof(secret_, challenge), mine),
                 deadline) ||
      !receive_line(deadline, "no answer to AUTH", line)) {
    fail("closed the connection instead of answering AUTH");
  }
  if (line.starts_with("ERR")) fail("refused this client's secret (" + line + ")");
  const auth::Mac expected = detail::server_proof(secret_, mine);
  std::string mac;
  try {
    if (!line.starts_with("OK ")) throw std::invalid_argument("not OK");
    mac = auth::from_hex(std::string_view(line).substr(3), auth::kMacBytes);
  } catch (const std::invalid_argument&) {
    fail("did not prove it knows the secret (it answered AUTH with '" + line.substr(0, 80) + "')");
  }
  if (!auth::mac_matches(auth::bytes_of(mac), expected)) {
    fail("did not prove it knows the secret");
  }
}

void ArbiterClient::connect(Clock::time_point deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const int rc = ::getaddrinfo(host_.c_str(), port_.c_str(), &hints, &found);
  if (rc != 0) fail("cannot resolve " + host_ + ": " + ::gai_strerror(rc));
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> addresses(found, ::freeaddrinfo);
  std::string why = "no address";
  for (const addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
    const int fd = ::socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      why = error_text(errno);
      continue;
    }
    int err = ::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      if (!wait_until_ready(fd, POLLOUT, deadline)) {
        ::close(fd);
        fail("no connection within " + std::to_string(timeout_.count()) + " ms");
      }
      socklen_t len = sizeof err;
      if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
    }
    if (err != 0) {
      why = error_text(err);
      ::close(fd);
      continue;
    }
    const int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fd_ = fd;
    if (!secret_.empty()) authenticate(deadline);
    return;
  }
  fail("cannot connect: " + why);
}

void ArbiterClient::disconnect() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

void ArbiterClient::fail(const std::string& what) {
  disconnect();
  throw ArbiterUnavailable("arbiter " + address_ + ": " + what);
}

}  // namespace vmft::arbiter
