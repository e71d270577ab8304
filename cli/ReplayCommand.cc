// vmft replay: re-execute a recorded run, feeding the guest every input from the log and
// checking every output, interrupt and state digest against it. Uses no host clock, socket or
// randomness.
#include "ReplayCommand.h"

#include <spdlog/spdlog.h>

#include <asio.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <thread>

#include "LiveRun.h"
#include "Logging.h"
#include "vmft/guest/abi.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/hypervisor/ReplayRole.h"
#include "vmft/logchannel/LogError.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::cli {

namespace {

struct ReplayOptions {
  std::string guest;
  std::string log;
};

void write_console(std::span<const uint8_t> bytes) {
  std::fwrite(bytes.data(), 1, bytes.size(), stdout);
  std::fflush(stdout);
}

// A replay of the wrong guest would diverge at once, with a confusing report: refuse it.
bool same_guest(const ReplayOptions& options, const logchannel::LogHeader& header) {
  const uint64_t digest = logchannel::guest_file_digest(options.guest);
  if (digest == header.guest_digest) return true;
  spdlog::error("log {} was recorded with guest {} (digest {:016x}); {} is a different image "
                "(digest {:016x})",
                options.log, header.guest_name, header.guest_digest, options.guest, digest);
  return false;
}

int summarise(const hypervisor::RunResult& result, const hypervisor::ReplayRole& role,
              double seconds) {
  using Outcome = hypervisor::RunResult::Outcome;
  if (role.log_error()) {
    spdlog::error("{}; the replay stopped there, after {} instructions", *role.log_error(),
                  result.instructions);
    return kUsageExitCode;
  }
  if (result.outcome == Outcome::kDiverged) {
    spdlog::error("{}", result.report);
    return kDivergedExitCode;
  }
  const auto& s = role.stats();
  if (!s.complete) {
    spdlog::warn("the log ends without an end record (was the recorder killed?); everything up "
                 "to instruction {} matched",
                 result.instructions);
  }
  spdlog::info("replay matched: {} instructions, {} records ({} inputs, {} outputs, {} "
               "interrupts, {} digests) checked in {:.3f} s",
               result.instructions, s.records, s.inputs, s.outputs, s.interrupts, s.digests,
               seconds);
  return 0;
}

int replay(const ReplayOptions& options) {
  std::unique_ptr<logchannel::LogReader> log;
  hypervisor::GuestImage image;
  try {
    log = std::make_unique<logchannel::LogReader>(options.log);
    if (!same_guest(options, log->header())) return kUsageExitCode;
    image = hypervisor::load_elf_file(options.guest, VMFT_RAM_BASE, log->header().ram_size);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return kUsageExitCode;
  }

  asio::io_context io;
  hypervisor::InputQueue stop_requests;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&stop_requests](const asio::error_code& ec, int) {
    if (!ec) stop_requests.request_stop();
  });
  std::thread signal_thread([&io] { io.run(); });

  hypervisor::ReplayRole role(*log, stop_requests);
  hypervisor::Machine machine(std::move(image), {log->header().ram_size, write_console}, role);
  const auto started = std::chrono::steady_clock::now();
  const hypervisor::RunResult result = machine.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  io.stop();
  signal_thread.join();
  return summarise(result, role, seconds);
}

}  // namespace

void add_replay_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  auto options = std::make_shared<ReplayOptions>();
  CLI::App* cmd = app.add_subcommand(
      "replay", "Re-execute a recorded run from its log and check every output and digest");
  cmd->add_option("guest", options->guest, "The guest the log was recorded with")
      ->required()
      ->check(CLI::ExistingFile);
  cmd->add_option("--log", options->log, "The log `vmft record` wrote")
      ->required()
      ->check(CLI::ExistingFile);
  add_log_level_option(*cmd, log_level);
  cmd->callback([&action, options] { action = [options] { return replay(*options); }; });
}

}  // namespace vmft::cli
