#include "ArbiterProcess.h"

#include <unistd.h>

#include <csignal>
#include <stdexcept>

#include "vmft/arbiter/ArbiterClient.h"

namespace vmft::integration {

namespace fs = std::filesystem;

namespace {

// A decision costs two fsyncs, which a loaded test machine may take long over.
constexpr std::chrono::milliseconds kClientTimeout{5000};

}  // namespace

ArbiterProcess::ArbiterProcess(std::vector<std::string> wrapper) : wrapper_(std::move(wrapper)) {
  std::string pattern = (fs::temp_directory_path() / "vmft-arbiter-XXXXXX").string();
  if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
  data_ = pattern;
  start(0);
}

ArbiterProcess::~ArbiterProcess() {
  process_.reset();
  std::error_code ignored;
  fs::remove_all(data_, ignored);
}

std::string ArbiterProcess::address() const { return "127.0.0.1:" + std::to_string(port_); }

void ArbiterProcess::start(uint16_t port) {
  if (process_) earlier_logs_ += process_->log() + "--- (killed; restarted) ---\n";
  process_ = std::make_unique<VmftProcess>(
      wrapper_, std::vector<std::string>{"arbiter", "--listen", "127.0.0.1:" + std::to_string(port),
                                         "--data", data_.string()});
  const auto bound = process_->listening_port("arbiter", kStartTimeout);
  if (!bound) throw std::runtime_error("vmft arbiter did not start:\n" + process_->log());
  port_ = *bound;
}

void ArbiterProcess::kill() {
  process_->kill();
  if (process_->wait_for_exit(kExitTimeout) != 128 + SIGKILL) {
    throw std::runtime_error("vmft arbiter did not die of SIGKILL:\n" + process_->log());
  }
}

void ArbiterProcess::restart() { start(port_); }

arbiter::ArbiterState ArbiterProcess::read(const std::string& pair) const {
  return arbiter::ArbiterClient(address(), kClientTimeout).read(pair);
}

}  // namespace vmft::integration
