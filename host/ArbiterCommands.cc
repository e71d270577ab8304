// vmft arbiter: the test-and-set arbiter that decides which side of a pair goes on alone, and
// what an operator asks of a running arbiter (built-in or etcd) through the client the pairs
// use.
#include "vmft/host/ArbiterCommands.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <csignal>
#include <optional>

#include "vmft/arbiter/ArbiterServer.h"
#include "vmft/arbiter/ArbiterStore.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/host/LiveRun.h"

namespace vmft::host {

int serve_arbiter(const ArbiterConfig& config) {
  arbiter::ArbiterStore store(config.data);  // a directory it cannot use ends it through main
  asio::io_context io;
  arbiter::ServerLimits limits;
  limits.idle_timeout = config.idle_timeout;
  std::optional<arbiter::ArbiterServer> server;
  try {
    server.emplace(io, config.listen, store, limits, config.secret);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&server](const asio::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}, stopping", signal_name(signo));
    server->stop();
  });
  const auto local = server->local_endpoint();
  // The integration harness reads this line for the port.
  spdlog::info("listening on arbiter {}:{} (state in {})", local.address().to_string(),
               local.port(), store.directory().string());
  if (!config.secret.empty()) {
    spdlog::info("clients must prove they know the secret in {}", config.secret_file);
  }
  io.run();
  return 0;
}

namespace {

std::string holder_text(const arbiter::ArbiterState& state) {
  return state.holder.empty() ? "-" : state.holder;
}

}  // namespace

int list_pairs(arbiter::Arbiter& arbiter) {
  const auto list = arbiter.list(kMaxListed);
  fmt::print("{:<24} {:>6}  {:<8}  {}\n", "PAIR", "EPOCH", "MODE", "HOLDER");
  for (const std::string& name : list.names) {
    const auto state = arbiter.read(name);
    fmt::print("{:<24} {:>6}  {:<8}  {}\n", name, state.epoch, arbiter::mode_name(state.mode),
               holder_text(state));
  }
  if (list.total > list.names.size()) {
    fmt::print("... and {} more\n", list.total - list.names.size());
  }
  return 0;
}

int show_pair(arbiter::Arbiter& arbiter, const std::string& pair) {
  const auto state = arbiter.read(pair);
  fmt::print("pair:   {}\nepoch:  {}\nmode:   {}\nholder: {}\n", pair, state.epoch,
             arbiter::mode_name(state.mode), holder_text(state));
  return 0;
}

int release_pair(arbiter::Arbiter& arbiter, const std::string& pair) {
  const auto state = arbiter.read(pair);
  if (state.mode == arbiter::Mode::kNone || state.mode == arbiter::Mode::kReleased) {
    fmt::print("pair '{}' is {}: nothing to release\n", pair, arbiter::describe(state));
    return 0;
  }
  const auto result = arbiter.release(pair, state.epoch, state.holder);
  if (!result.ok) {
    spdlog::error("pair '{}' changed while it was being released (it is now {}): not released",
                  pair, arbiter::describe(result.state));
    return ft::kStartFailedExitCode;
  }
  fmt::print("released pair '{}' at epoch {} (it was {}, held by {})\n", pair, state.epoch,
             arbiter::mode_name(state.mode), state.holder);
  return 0;
}

}  // namespace vmft::host
