#include "vmft/ft/ArbiterClient.h"

namespace vmft::ft {

ArbiterClient::ArbiterClient(arbiter::Arbiter& arbiter, std::string address, Clock& clock)
    : arbiter_(arbiter), address_(std::move(address)), clock_(clock) {}

template <typename F>
auto ArbiterClient::ask(const hypervisor::InputQueue& stop, F&& call)
    -> std::optional<decltype(call())> {
  auto last_said = clock_.now() - std::chrono::hours(1);
  for (;;) {
    try {
      return call();
    } catch (const arbiter::ArbiterUnavailable& e) {
      if (clock_.now() - last_said >= kArbiterUnavailableReport) {
        spdlog::warn("cannot get a decision from the arbiter at {}: {}; trying again", address_,
                     e.what());
        last_said = clock_.now();
      }
    }
    if (stop.stop_requested()) return std::nullopt;
    clock_.sleep_for(kArbiterRetry);
  }
}

std::optional<arbiter::TasResult> ArbiterClient::test_and_set(const std::string& pair,
                                                              uint64_t epoch, const std::string& me,
                                                              const hypervisor::InputQueue& stop) {
  return ask(stop, [&] { return arbiter_.test_and_set(pair, epoch, me); });
}

std::optional<arbiter::RegisterResult> ArbiterClient::register_epoch(
    const std::string& pair, uint64_t expected_epoch, const std::string& me,
    const hypervisor::InputQueue& stop) {
  return ask(stop, [&] { return arbiter_.register_epoch(pair, expected_epoch, me); });
}

std::optional<arbiter::RegisterResult> ArbiterClient::register_next(
    const std::string& pair, const std::string& me, const hypervisor::InputQueue& stop) {
  return ask(stop, [&] { return arbiter_.register_epoch(pair, arbiter_.read(pair).epoch, me); });
}

bool ArbiterClient::release(const std::string& pair, uint64_t epoch, const std::string& me) {
  const auto deadline = clock_.now() + kReleaseDeadline;
  for (;;) {
    try {
      const auto result = arbiter_.release(pair, epoch, me);
      if (result.ok) {
        spdlog::info(
            "released pair '{}' at the arbiter (epoch {}): the same commands start it "
            "again",
            pair, epoch);
      } else {
        spdlog::warn("the arbiter did not release pair '{}' at epoch {} for this side: it is at {}",
                     pair, epoch, arbiter::describe(result.state));
      }
      return result.ok;
    } catch (const arbiter::ArbiterUnavailable& e) {
      if (clock_.now() >= deadline) {
        spdlog::warn(
            "could not release pair '{}' at the arbiter at {} ({}): once neither side runs, "
            "`vmft arbiter release {} --arbiter {}` does",
            pair, address_, e.what(), pair, address_);
        return false;
      }
    }
    clock_.sleep_for(kArbiterRetry);
  }
}

}  // namespace vmft::ft
