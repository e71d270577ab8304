#pragma once
// What the fuzz targets share: bytes as a file, and quiet logs.

#include <string>

#include "FuzzTargets.h"
#include "vmft/logchannel/Channel.h"

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
logchannel::ChannelConfig channel_primary_config();

}  // namespace vmft::fuzz
