// vmft log show: a log file's header and records, one line each, for people.
#include "LogCommand.h"

#include <spdlog/spdlog.h>

#include <cinttypes>
#include <cstdio>
#include <memory>

#include "Logging.h"
#include "Options.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::cli {

namespace {

constexpr int kBadLogExitCode = 1;

void print_header(const logchannel::LogHeader& header) {
  std::printf("log format version %" PRIu32 "\n", header.version);
  std::printf("guest %s digest %016" PRIx64 "\n", header.guest_name.c_str(), header.guest_digest);
  std::printf("ram %" PRIu64 " bytes (%" PRIu64 " MiB)\n", header.ram_size, header.ram_size >> 20);
  if (const auto& f = header.frames) {
    std::printf("nic frames mac=%s ip=%s/%u gateway=%s mtu=%" PRIu32 "\n",
                format_mac(f->mac).c_str(), format_ipv4(f->ip).c_str(), unsigned{f->prefix_len},
                f->gateway ? format_ipv4(f->gateway).c_str() : "none", f->mtu);
  } else {
    std::printf("nic udp=%s tcp=%s\n", header.has_udp ? "yes" : "no",
                header.has_tcp ? "yes" : "no");
  }
  std::printf("digest every %" PRIu64 " instructions\n", header.digest_interval);
  std::printf("emulator %s\n", header.emulator.c_str());
}

// Prints every record; returns whether one of them ended the run.
bool print_records(logchannel::LogReader& reader) {
  bool ended = false;
  while (auto record = reader.next_record()) {
    std::printf("%s\n", logchannel::describe(*record).c_str());
    ended = ended || std::holds_alternative<logchannel::RunEnd>(record->body);
  }
  return ended;
}

int show(const std::string& path) {
  try {
    logchannel::LogReader reader(path);
    print_header(reader.header());
    if (!print_records(reader)) std::printf("(no end record: the recording was cut short)\n");
    return 0;
  } catch (const logchannel::LogError& e) {
    std::fflush(stdout);  // the records read so far come before the error
    spdlog::error("{}", e.what());
    return kBadLogExitCode;
  }
}

}  // namespace

void add_log_command(CLI::App& app, std::string& log_level, std::function<int()>& action) {
  CLI::App* cmd = app.add_subcommand("log", "Inspect a log recorded by vmft record");
  cmd->require_subcommand(1);
  auto path = std::make_shared<std::string>();
  CLI::App* show_cmd = cmd->add_subcommand("show", "Print a log's header and one line per record");
  show_cmd->add_option("file", *path, "The log file")->required()->check(CLI::ExistingFile);
  add_log_level_option(*show_cmd, log_level);
  show_cmd->callback([&action, path] { action = [path] { return show(*path); }; });
}

}  // namespace vmft::cli
