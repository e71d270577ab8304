#include "vmft/host/LiveRun.h"

#include <spdlog/spdlog.h>
#include <sys/resource.h>

#include <asio.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <stdexcept>
#include <thread>

#include "vmft/devices/AsioNetwork.h"
#include "vmft/devices/AsioTimer.h"
#include "vmft/devices/Entropy.h"
#include "vmft/devices/FrameFaults.h"
#include "vmft/devices/HostClock.h"
#include "vmft/guest/abi.h"
#include "vmft/host/HostNetwork.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/FrameNic.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::host {

void clear_exit_code_file(const std::string& path) {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::remove(path, ec);
  if (ec) throw std::runtime_error("cannot remove --exit-code-file " + path + ": " + ec.message());
}

int report_run(const hypervisor::RunResult& result, double seconds,
               const std::string& exit_code_file) {
  using Outcome = hypervisor::RunResult::Outcome;
  switch (result.outcome) {
    case Outcome::kExited:
      spdlog::info("guest exited with code {} after {} instructions in {:.3f} s", result.exit_code,
                   result.instructions, seconds);
      if (!exit_code_file.empty()) {
        std::ofstream out(exit_code_file);
        out << result.exit_code << "\n";
        out.close();
        if (!out) spdlog::error("cannot write --exit-code-file {}", exit_code_file);
      }
      return result.exit_code & 0xff;
    case Outcome::kFaulted: spdlog::error("{}", result.report); return ft::kFaultExitCode;
    case Outcome::kStopped:
      spdlog::info("stopped after {} instructions in {:.3f} s", result.instructions, seconds);
      return 0;
    case Outcome::kDiverged: spdlog::error("{}", result.report); return ft::kDivergedExitCode;
    case Outcome::kUntil: break;  // a live run is never given --until
  }
  return ft::kFaultExitCode;
}

namespace {

std::unique_ptr<logchannel::LogWriter> open_log(const std::string& path,
                                                const GuestConfig& config) {
  if (path.empty()) return nullptr;
  return std::make_unique<logchannel::LogWriter>(
      path,
      logchannel::guest_log_header(config.guest, config.ram_size, config.udp.has_value(),
                                   config.tcp.has_value(), config.digest_interval,
                                   hypervisor::emulator_name(), hypervisor::to_log(config.frames)));
}

}  // namespace

std::string signal_name(int signo) {
  const char* abbrev = sigabbrev_np(signo);
  return abbrev ? std::string("SIG") + abbrev : "signal " + std::to_string(signo);
}

void write_console(std::span<const uint8_t> bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

void make_room_for_connections(const devices::NetLimits& limits) {
  // vmft's own descriptors: the listeners, the logging channel, the arbiter, logs, epoll.
  constexpr rlim_t kOwnDescriptors = 64;
  const rlim_t needed = limits.max_connections + kOwnDescriptors;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
  rlimit raised = limit;
  raised.rlim_cur = std::min(needed, limit.rlim_max);
  if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
  if (limit.rlim_cur >= needed) return;
  spdlog::warn(
      "--max-connections {} needs about {} file descriptors, but this process may open only {} "
      "(ulimit -n): a connection beyond that waits to be accepted until another closes",
      limits.max_connections, needed, limit.rlim_cur);
}

int run_live(const GuestConfig& config, const std::string& log_path) {
  clear_exit_code_file(config.exit_code_file);
  hypervisor::GuestImage image;
  try {
    image = hypervisor::load_elf_file(config.guest, VMFT_RAM_BASE, config.ram_size);
  } catch (const hypervisor::ElfError& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }

  asio::io_context io;
  auto work = asio::make_work_guard(io);
  hypervisor::InputQueue inputs;
  // Before anything is announced: from the first "listening" line on, SIGTERM stops cleanly.
  asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
  signals.async_wait([&inputs](const asio::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}, stopping", signal_name(signo));
    inputs.request_stop();
  });

  devices::SystemClock clock;
  devices::SystemEntropy entropy;
  devices::AsioTimer timer(io, clock,
                           [&inputs](uint64_t gen) { inputs.push(hypervisor::TimerExpired{gen}); });
  std::unique_ptr<HostNetwork> net;
  try {
    net = std::make_unique<HostNetwork>(io, config, inputs);
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }
  if (!config.frames) make_room_for_connections(config.limits);
  const auto log = open_log(log_path, config);
  net->log_addresses();

  hypervisor::LiveRole role({clock, entropy, timer, net->backend()}, inputs, log.get());
  hypervisor::Machine machine(std::move(image),
                              {config.ram_size, write_console, config.digest_interval}, role);
  net->start();
  std::thread io_thread([&io] { io.run(); });

  const auto started = std::chrono::steady_clock::now();
  const hypervisor::RunResult result = machine.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  io.stop();
  io_thread.join();
  if (role.log_error()) {
    spdlog::error("recording failed, so the guest was stopped after {} instructions: {}",
                  result.instructions, *role.log_error());
    return ft::kStartFailedExitCode;
  }
  if (log) {
    spdlog::info("log {}: {} bytes, {:.0f} bytes/s", log_path, log->bytes_written(),
                 static_cast<double>(log->bytes_written()) / std::max(seconds, 1e-9));
  }
  return report_run(result, seconds, config.exit_code_file);
}

}  // namespace vmft::host
