#include "PairProcesses.h"

#include <stdexcept>

namespace vmft::integration {

PairProcesses::PairProcesses(PairSpec spec) : spec_(std::move(spec)) {
  std::vector<std::string> options = side_options();
  options.insert(options.end(), {"--log-listen", "127.0.0.1:0"});
  options.insert(options.end(), spec_.primary_options.begin(), spec_.primary_options.end());
  primary_ = std::make_unique<VmftProcess>(spec_.wrapper, "primary", spec_.guest, options);

  const auto log = primary_->listening_port("log", kStartTimeout);
  const std::optional<uint16_t> none = 0;
  const auto tcp = spec_.tcp ? primary_->listening_port("tcp", kStartTimeout) : none;
  const auto udp = spec_.udp ? primary_->listening_port("udp", kStartTimeout) : none;
  if (!log || !tcp || !udp) {
    throw std::runtime_error("vmft primary " + spec_.guest + " did not log its ports\n" +
                             diagnostics());
  }
  log_port_ = *log;
  tcp_port_ = *tcp;
  udp_port_ = *udp;
}

std::vector<std::string> PairProcesses::side_options() const {
  std::vector<std::string> options = {"--name", spec_.name};
  if (spec_.udp) options.insert(options.end(), {"--udp", "127.0.0.1:0"});
  if (spec_.tcp) options.insert(options.end(), {"--tcp", "127.0.0.1:0"});
  options.insert(options.end(), spec_.options.begin(), spec_.options.end());
  return options;
}

std::vector<std::string> PairProcesses::backup_options() const {
  std::vector<std::string> options = side_options();
  options.insert(options.end(), {"--log-connect", "127.0.0.1:" + std::to_string(log_port_)});
  options.insert(options.end(), spec_.backup_side_options.begin(), spec_.backup_side_options.end());
  return options;
}

std::unique_ptr<VmftProcess> PairProcesses::start_backup(
    const std::string& guest, const std::vector<std::string>& options) const {
  return std::make_unique<VmftProcess>(spec_.wrapper, "backup", guest, options);
}

void PairProcesses::pair() {
  backup_ = start_backup(spec_.guest, backup_options());
  const bool connected = primary_->wait_for_event("paired", kStartTimeout) &&
                         backup_->wait_for_event("paired", kStartTimeout);
  const bool ready = connected && (spec_.ready_line.empty() ||
                                   primary_->wait_for_console(spec_.ready_line, kStartTimeout));
  if (!ready) {
    throw std::runtime_error("the " + spec_.guest + " pair did not get ready (paired, and \"" +
                             spec_.ready_line + "\" printed)\n" + diagnostics());
  }
}

PairProcesses::Exits PairProcesses::stop() {
  primary_->terminate();
  return wait_for_exits();
}

PairProcesses::Exits PairProcesses::wait_for_exits() {
  Exits exits;
  exits.primary = primary_->wait_for_exit(kStopTimeout);
  if (!exits.primary) primary_->kill();
  if (backup_) {
    exits.backup = backup_->wait_for_exit(kStopTimeout);
    if (!exits.backup) backup_->kill();
  }
  return exits;
}

std::string PairProcesses::diagnostics() const {
  std::string text = "--- primary log (stderr) ---\n" + primary_->log() +
                     "--- primary guest console (stdout) ---\n" + primary_->console();
  if (backup_) text += "--- backup log (stderr) ---\n" + backup_->log();
  return text + "---\n";
}

}  // namespace vmft::integration
