#pragma once

#include <stdexcept>

namespace vmft::logchannel {

/// A log that cannot be written or read: an I/O error, the wrong file, an unsupported
/// version, or truncated or corrupt bytes. The message says where (path, byte offset, record).
class LogError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace vmft::logchannel
