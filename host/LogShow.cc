// vmft log show: a log file's header and records, one line each, for people, or as JSON lines
// for programs.
#include "vmft/host/LogShow.h"

#include <spdlog/spdlog.h>

#include <cinttypes>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "vmft/ft/ExitCodes.h"
#include "vmft/host/Addresses.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::host {

namespace {

constexpr int kBadLogExitCode = ft::kStartFailedExitCode;

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

void print_json_line(const nlohmann::json& j) {
  std::printf("%s\n", j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace).c_str());
}

// The header as one JSON object, then one per record: seq, icount, type, and its fields as
// `key=value` words (as `log show` prints them).
bool print_json(logchannel::LogReader& reader) {
  const auto& h = reader.header();
  nlohmann::json header = {{"version", h.version},
                           {"guest", h.guest_name},
                           {"guest_digest", fmt::format("{:016x}", h.guest_digest)},
                           {"ram_bytes", h.ram_size},
                           {"digest_interval", h.digest_interval},
                           {"emulator", h.emulator}};
  if (const auto& f = h.frames) {
    header["nic"] = {{"kind", "frames"},
                     {"mac", format_mac(f->mac)},
                     {"ip", format_ipv4(f->ip) + "/" + std::to_string(f->prefix_len)},
                     {"gateway", f->gateway ? format_ipv4(f->gateway) : ""},
                     {"mtu", f->mtu}};
  } else {
    header["nic"] = {{"kind", "sockets"}, {"udp", h.has_udp}, {"tcp", h.has_tcp}};
  }
  print_json_line({{"header", header}});
  bool ended = false;
  while (auto record = reader.next_record()) {
    print_json_line({{"seq", record->seq},
                     {"icount", record->icount},
                     {"type", logchannel::record_type_name(record->body)},
                     {"fields", logchannel::describe_body(record->body)}});
    ended = ended || std::holds_alternative<logchannel::RunEnd>(record->body);
  }
  return ended;
}

}  // namespace

int show_log(const std::string& path, bool json) {
  try {
    logchannel::LogReader reader(path);
    if (json) {
      print_json(reader);  // a run cut short just has no "end" record
      return 0;
    }
    print_header(reader.header());
    if (!print_records(reader)) std::printf("(no end record: the recording was cut short)\n");
    return 0;
  } catch (const logchannel::LogError& e) {
    std::fflush(stdout);  // the records read so far come before the error
    spdlog::error("{}", e.what());
    return kBadLogExitCode;
  }
}

}  // namespace vmft::host
