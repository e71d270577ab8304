#pragma once
// What the fuzz targets share: bytes as a file, and quiet logs.

#include <string>
#include <string_view>

#include "FuzzTargets.h"
#include "vmft/auth/Secret.h"
#include "vmft/channel/Channel.h"

namespace vmft::fuzz {

/// `bytes` as a file in memory (memfd), for readers that take a path. Closed when destroyed.
class MemFile {
 public:
  explicit MemFile(Bytes bytes);
  ~MemFile();
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;

  /// /proc/self/fd/N: opening it opens the file from its start.
  const std::string& path() const { return path_; }

 private:
  int fd_ = -1;
  std::string path_;
};

/// The primary that backups in the `channel` target's inputs ask to join; its seeds match it.
channel::ChannelConfig channel_primary_config();

/// The secret and nonces of the handshakes the `channel` and `arbiter_request` targets check
/// proofs against (a real side draws its nonces at random); their seeds carry proofs made with
/// them, so that mutations of what follows a proof are read too.
inline constexpr std::string_view kFuzzSecret = "the fuzzed pair's secret, 32 B..";
inline constexpr auth::Nonce kFuzzPrimaryNonce = {1, 2, 3, 4, 5, 6, 7, 8};
inline constexpr auth::Nonce kFuzzBackupNonce = {9, 10, 11, 12, 13, 14, 15, 16};

}  // namespace vmft::fuzz
