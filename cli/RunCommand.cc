// vmft run: one guest, standalone, with real clocks, randomness and sockets.
#include "RunCommand.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <thread>

#include "Logging.h"
#include "Options.h"
#include "vmft/devices/AsioNetwork.h"
#include "vmft/devices/AsioTimer.h"
#include "vmft/devices/Entropy.h"
#include "vmft/devices/HostClock.h"
#include "vmft/guest/abi.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/Machine.h"

namespace vmft::cli {

namespace {

constexpr uint64_t kMinRam = 1ULL << 20;
constexpr uint64_t kMaxRam = 4ULL << 30;  // the guest's address space is 32-bit friendly
constexpr int kLoadErrorExitCode = 1;
constexpr int kFaultExitCode = 70;  // EX_SOFTWARE: the guest crashed

struct RunOptions {
  std::string guest;
  std::string udp;
  std::string tcp;
  std::string mem = "64M";
};

uint64_t checked_ram_size(const std::string& text) {
  const uint64_t size = parse_size(text);
  if (size < kMinRam || size > kMaxRam || size % VMFT_MMIO_PAGE_SIZE != 0) {
    throw std::invalid_argument("--mem " + text +
                                ": RAM must be a multiple of 4 KiB between 1 MiB and 4 GiB");
  }
  return size;
}

void write_console(std::span<const uint8_t> bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

int report(const hypervisor::RunResult& result, double seconds) {
  using Outcome = hypervisor::RunResult::Outcome;
  switch (result.outcome) {
    case Outcome::kExited:
      spdlog::info("guest exited with code {} after {} instructions in {:.3f} s", result.exit_code,
                   result.instructions, seconds);
      return result.exit_code & 0xff;
    case Outcome::kFaulted:
      spdlog::error("{}", result.fault);
      return kFaultExitCode;
    case Outcome::kStopped:
      spdlog::info("stopped after {} instructions in {:.3f} s", result.instructions, seconds);
      return 0;
  }
  return kFaultExitCode;
}

int run(const RunOptions& options) {
  const uint64_t ram_size = checked_ram_size(options.mem);
  const auto udp = options.udp.empty() ? std::nullopt
                                       : std::optional(parse_endpoint(options.udp));
  const auto tcp = options.tcp.empty() ? std::nullopt
                                       : std::optional(parse_endpoint(options.tcp));
  hypervisor::GuestImage image;
  try {
    image = hypervisor::load_elf_file(options.guest, VMFT_RAM_BASE, ram_size);
  } catch (const hypervisor::ElfError& e) {
    spdlog::error("{}", e.what());
    return kLoadErrorExitCode;
  }

  asio::io_context io;
  auto work = asio::make_work_guard(io);
  hypervisor::InputQueue inputs;
  // Before anything is announced: from the first "listening" line on, SIGTERM stops cleanly.
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&inputs](const asio::error_code& ec, int signo) {
    if (ec) return;
    spdlog::info("received {}, stopping", signo == SIGINT ? "SIGINT" : "SIGTERM");
    inputs.request_stop();
  });

  devices::SystemClock clock;
  devices::SystemEntropy entropy;
  devices::AsioTimer timer(io, clock,
                           [&inputs](uint64_t gen) { inputs.push(hypervisor::TimerExpired{gen}); });
  std::unique_ptr<devices::AsioNetwork> net;
  try {
    net = std::make_unique<devices::AsioNetwork>(
        io, udp, tcp, [&inputs](devices::NetEvent ev) { inputs.push(std::move(ev)); });
  } catch (const std::system_error& e) {
    spdlog::error("{}", e.what());
    return kLoadErrorExitCode;
  }
  if (auto ep = net->udp_endpoint()) spdlog::info("listening on udp {}", format_endpoint(*ep));
  if (auto ep = net->tcp_endpoint()) spdlog::info("listening on tcp {}", format_endpoint(*ep));

  hypervisor::Machine machine(std::move(image), hypervisor::MachineConfig{ram_size},
                              {clock, entropy, timer, *net, write_console}, inputs);
  net->start();
  std::thread io_thread([&io] { io.run(); });

  const auto started = std::chrono::steady_clock::now();
  const hypervisor::RunResult result = machine.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  io.stop();
  io_thread.join();
  return report(result, seconds);
}

}  // namespace

void add_run_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto options = std::make_shared<RunOptions>();
  CLI::App* cmd = app.add_subcommand("run", "Run a guest standalone (no log, no backup)");
  cmd->add_option("guest", options->guest, "Guest program: a RISC-V RV64IM ELF executable")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--udp", options->udp,
                  "Give the guest a UDP socket bound to HOST:PORT (port 0: any free port)");
  cmd->add_option("--tcp", options->tcp,
                  "Give the guest a TCP listener on HOST:PORT (port 0: any free port)");
  cmd->add_option("--mem", options->mem, "Guest RAM size, e.g. 64M or 1G")
      ->capture_default_str();
  add_log_level_option(*cmd, log_level);
  cmd->callback([&action, options] { action = [options] { return run(*options); }; });
}

}  // namespace vmft::cli
