#pragma once
// How a side asks the arbiter: nobody acts without an answer, so a question is asked again
// until the arbiter answers (or a stop is requested), and a clean stop's release is tried for
// a while. The arbiter itself (a TCP client, etcd, or a fake) is injected.

#include <spdlog/spdlog.h>

#include <chrono>
#include <optional>
#include <string>

#include "vmft/arbiter/Arbiter.h"
#include "vmft/ft/Clock.h"
#include "vmft/hypervisor/InputQueue.h"

namespace vmft::ft {

/// Between attempts to reach an arbiter that does not answer.
inline constexpr auto kArbiterRetry = std::chrono::milliseconds(100);
/// How often a side says that the arbiter still does not answer.
inline constexpr auto kArbiterUnavailableReport = std::chrono::seconds(5);
/// How long a side that stops cleanly tries to release its pair at the arbiter.
inline constexpr auto kReleaseDeadline = std::chrono::seconds(3);

/// Thread-safe as the arbiter is: any thread may ask.
class ArbiterClient {
 public:
  /// `address`: where the arbiter is, for messages. Keeps references to `arbiter` and `clock`.
  ArbiterClient(arbiter::Arbiter& arbiter, std::string address, Clock& clock);

  const std::string& address() const { return address_; }

  /// Test-and-set for `epoch`, asked until the arbiter answers; nullopt if `stop` was
  /// requested first.
  std::optional<arbiter::TasResult> test_and_set(const std::string& pair, uint64_t epoch,
                                                 const std::string& me,
                                                 const hypervisor::InputQueue& stop);
  /// Registers the pair at `expected_epoch` + 1, asked until the arbiter answers; nullopt if
  /// `stop` was requested first.
  std::optional<arbiter::RegisterResult> register_epoch(const std::string& pair,
                                                        uint64_t expected_epoch,
                                                        const std::string& me,
                                                        const hypervisor::InputQueue& stop);
  /// Registers the pair at the epoch after the one the arbiter has (a primary whose first
  /// backup is in step), asked until the arbiter answers; nullopt if `stop` came first.
  std::optional<arbiter::RegisterResult> register_next(const std::string& pair,
                                                       const std::string& me,
                                                       const hypervisor::InputQueue& stop);
  /// Releases `pair` at `epoch`, which `me` holds: a side that stops cleanly ends the pair
  /// there, so that the same commands can start it again. Tries for kReleaseDeadline, then says
  /// how an operator can do it. Returns whether the arbiter released it.
  bool release(const std::string& pair, uint64_t epoch, const std::string& me);

 private:
  template <typename F>
  auto ask(const hypervisor::InputQueue& stop, F&& call) -> std::optional<decltype(call())>;

  arbiter::Arbiter& arbiter_;
  std::string address_;
  Clock& clock_;
};

}  // namespace vmft::ft
