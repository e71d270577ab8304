#include "vmft/arbiter/ArbiterClient.h"

#include <utility>

#include "PosixLineWire.h"
#include "Protocol.h"
#include "vmft/arbiter/Rules.h"

namespace vmft::arbiter {

namespace {

using detail::Request;

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
    : ArbiterClient(address, std::make_unique<PosixLineWire>(), timeout, std::move(secret)) {}

ArbiterClient::ArbiterClient(const std::string& address, std::unique_ptr<LineWire> wire,
                             std::chrono::milliseconds timeout, std::string secret)
    : address_(address), timeout_(timeout), secret_(std::move(secret)), wire_(std::move(wire)) {
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
  const auto deadline = wire_->now() + timeout_;
  const bool kept = wire_->connected();
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

bool ArbiterClient::try_call(const std::string& request, TimePoint deadline, size_t max_reply,
                             std::string& reply) {
  if (!send_line(request, deadline)) return false;
  if (!receive_line(deadline, "no reply", reply, "", max_reply)) return false;
  if (reply.starts_with("CHALLENGE")) {
    fail("the arbiter requires a secret: give --secret-file (the file `vmft arbiter` has)");
  }
  return true;
}

bool ArbiterClient::send_line(const std::string& line, TimePoint deadline) {
  LineWire::Status status;
  try {
    status = wire_->send_line(line, deadline);
  } catch (const WireError& e) {
    fail(e.what());
  }
  if (status == LineWire::Status::kTimedOut) {
    fail("could not send within " + std::to_string(timeout_.count()) + " ms");
  }
  return status == LineWire::Status::kDone;
}

bool ArbiterClient::receive_line(TimePoint deadline, const char* what, std::string& line,
                                 const char* why_silent, size_t max_bytes) {
  LineWire::Line received;
  try {
    received = wire_->receive_line(deadline, max_bytes);
  } catch (const WireError& e) {
    fail(e.what());
  }
  if (received.status == LineWire::Status::kTimedOut) {
    fail(std::string(what) + " within " + std::to_string(timeout_.count()) + " ms" + why_silent);
  }
  if (received.status == LineWire::Status::kClosed) return false;
  // A client without the secret reads the challenge first, and may have the ERR that answers
  // its request behind it.
  if (received.more && !received.text.starts_with("CHALLENGE")) {
    fail("sent more than one reply line");
  }
  line = std::move(received.text);
  return true;
}

// A new connection, with a secret: the arbiter's challenge, our answer and nonce, and its
// proof that it knows the secret too.
void ArbiterClient::authenticate(TimePoint deadline) {
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

void ArbiterClient::connect(TimePoint deadline) {
  LineWire::Status status;
  try {
    status = wire_->connect(host_, port_, deadline);
  } catch (const WireError& e) {
    fail(e.what());
  }
  if (status != LineWire::Status::kDone) {
    fail("no connection within " + std::to_string(timeout_.count()) + " ms");
  }
  if (!secret_.empty()) authenticate(deadline);
}

void ArbiterClient::disconnect() { wire_->close(); }

void ArbiterClient::fail(const std::string& what) {
  disconnect();
  throw ArbiterUnavailable("arbiter " + address_ + ": " + what);
}

}  // namespace vmft::arbiter
