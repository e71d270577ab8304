#pragma once
// The arbiter's decisions and their durable record: one state file per pair under a data
// directory. No sockets: the server asks it, and tests can too.

#include <filesystem>
#include <mutex>
#include <string>
#include <unordered_map>

#include "vmft/arbiter/Arbiter.h"

namespace vmft::arbiter {

/// Decides per the rules of docs/arbiter-protocol.md (Rules.h) and persists each change (file
/// fsynced, renamed into place, directory fsynced) before returning it. If persisting fails the
/// call throws ArbiterUnavailable and the state stays as it was, so nobody acts on a decision a
/// crash could forget. Any thread may call; calls are serialised, each decision taken whole.
class ArbiterStore final : public Arbiter {
 public:
  /// Creates `dir` if it is missing and locks it (flock on `dir`/arbiter.lock) so that a
  /// second arbiter cannot serve the same pairs from it. Throws std::runtime_error naming the
  /// directory if either fails. Pairs' files are read when first asked about.
  explicit ArbiterStore(std::filesystem::path dir);
  ~ArbiterStore() override;
  ArbiterStore(const ArbiterStore&) = delete;
  ArbiterStore& operator=(const ArbiterStore&) = delete;

  const std::filesystem::path& directory() const { return dir_; }

  ArbiterState read(const std::string& pair) override;
  RegisterResult register_epoch(const std::string& pair, uint64_t expected_epoch,
                                const std::string& id) override;
  TasResult test_and_set(const std::string& pair, uint64_t epoch, const std::string& id) override;
  ReleaseResult release(const std::string& pair, uint64_t epoch, const std::string& id) override;
  PairList list(size_t max) override;

 private:
  // The pair's state, read from its file on first use; caller holds mutex_.
  ArbiterState current(const std::string& pair);
  // Persists `next`, and only then makes it the pair's state; caller holds mutex_.
  void commit(const std::string& pair, const ArbiterState& next);

  std::filesystem::path dir_;
  int lock_fd_ = -1;
  std::mutex mutex_;
  // Only pairs that have a file: asking about unknown pairs costs no memory.
  std::unordered_map<std::string, ArbiterState> states_;
};

}  // namespace vmft::arbiter
