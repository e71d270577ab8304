// vmft replay: re-execute a recorded run, feeding the guest every input from the log and
// checking every output, interrupt and state digest against it. Uses no host clock, socket or
// randomness.
#include "vmft/host/Replay.h"

#include <spdlog/spdlog.h>
#include <unicorn/unicorn.h>

#include <asio.hpp>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <thread>

#include "vmft/ft/ExitCodes.h"
#include "vmft/guest/abi.h"
#include "vmft/host/LiveRun.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/hypervisor/ReplayRole.h"
#include "vmft/logchannel/LogError.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::host {

namespace {

// A header that does not name an interval describes a VM with vmft's default one.
static_assert(logchannel::LogHeader{}.digest_interval == hypervisor::kDigestInterval);

// A replay of the wrong guest would diverge at once, with a confusing report: refuse it.
bool same_guest(const ReplayConfig& options, const logchannel::LogHeader& header) {
  const uint64_t digest = logchannel::guest_file_digest(options.guest);
  if (digest == header.guest_digest) return true;
  spdlog::error(
      "log {} was recorded with guest {} (digest {:016x}); {} is a different image "
      "(digest {:016x})",
      options.log, header.guest_name, header.guest_digest, options.guest, digest);
  return false;
}

// Another emulator version may cut the guest into other blocks, which moves every input the
// log places at a block boundary: refuse it rather than report a divergence.
bool same_emulator(const ReplayConfig& options, const logchannel::LogHeader& header) {
  const std::string here = hypervisor::emulator_name();
  if (header.emulator == here) return true;
  spdlog::error(
      "log {} was recorded on {}; this vmft runs {}: replay it with a vmft built "
      "against the same emulator",
      options.log, header.emulator, here);
  return false;
}

bool dump_ram(const std::string& path, std::span<const uint8_t> ram) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(ram.data()), static_cast<std::streamsize>(ram.size()));
  out.close();
  if (!out) {
    spdlog::error("cannot write RAM to {}: {}", path, std::strerror(errno));
    return false;
  }
  spdlog::info("wrote {} bytes of RAM (from {:#x}) to {}", ram.size(), VMFT_RAM_BASE, path);
  return true;
}

// --until: show the guest at that instruction.
int show_state(const ReplayConfig& options, const hypervisor::RunResult& result,
               const hypervisor::Machine& machine) {
  std::printf("stopped before instruction %llu (pc %#llx)\n%s\n",
              static_cast<unsigned long long>(result.instructions),
              static_cast<unsigned long long>(machine.read_register(UC_RISCV_REG_PC)),
              machine.register_dump().c_str());
  std::fflush(stdout);
  if (!options.dump_ram.empty() && !dump_ram(options.dump_ram, machine.ram())) {
    return ft::kStartFailedExitCode;
  }
  return 0;
}

int summarise(const ReplayConfig& options, const hypervisor::RunResult& result,
              const hypervisor::ReplayRole& role, const hypervisor::Machine& machine,
              double seconds) {
  using Outcome = hypervisor::RunResult::Outcome;
  if (role.log_error()) {
    spdlog::error("{}; the replay stopped there, after {} instructions", *role.log_error(),
                  result.instructions);
    return ft::kStartFailedExitCode;
  }
  if (result.outcome == Outcome::kDiverged) {
    spdlog::error("{}", result.report);
    return ft::kDivergedExitCode;
  }
  if (result.outcome == Outcome::kUntil) return show_state(options, result, machine);
  if (options.until != UINT64_MAX) {
    spdlog::error("the recorded run ended after {} instructions, before --until {}",
                  result.instructions, options.until);
    return ft::kStartFailedExitCode;
  }
  const auto& s = role.stats();
  if (!s.complete) {
    spdlog::warn(
        "the log ends without an end record (was the recorder killed?); everything up "
        "to instruction {} matched",
        result.instructions);
  }
  spdlog::info(
      "replay matched: {} instructions, {} records ({} inputs, {} outputs, {} "
      "interrupts, {} digests) checked in {:.3f} s",
      result.instructions, s.records, s.inputs, s.outputs, s.interrupts, s.digests, seconds);
  return 0;
}

}  // namespace

int replay(const ReplayConfig& options) {
  std::unique_ptr<logchannel::LogReader> log;
  hypervisor::GuestImage image;
  try {
    log = std::make_unique<logchannel::LogReader>(options.log);
    if (!same_guest(options, log->header()) || !same_emulator(options, log->header())) {
      return ft::kStartFailedExitCode;
    }
    image = hypervisor::load_elf_file(options.guest, VMFT_RAM_BASE, log->header().ram_size);
  } catch (const std::exception& e) {
    spdlog::error("{}", e.what());
    return ft::kStartFailedExitCode;
  }

  asio::io_context io;
  hypervisor::InputQueue stop_requests;
  asio::signal_set signals(io, SIGINT, SIGTERM);
  signals.async_wait([&stop_requests](const asio::error_code& ec, int) {
    if (!ec) stop_requests.request_stop();
  });
  std::thread signal_thread([&io] { io.run(); });

  hypervisor::ReplayRole role(*log, stop_requests);
  hypervisor::MachineConfig config{log->header().ram_size, write_console};
  config.digest_interval = log->header().digest_interval;  // digests where the recording took them
  config.until = options.until;
  hypervisor::Machine machine(std::move(image), std::move(config), role);
  const auto started = std::chrono::steady_clock::now();
  const hypervisor::RunResult result = machine.run();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  io.stop();
  signal_thread.join();
  return summarise(options, result, role, machine, seconds);
}

}  // namespace vmft::host
