#pragma once
// The real LineWire: a non-blocking TCP socket waited on with poll, deadlines on steady_clock.

#include "vmft/arbiter/LineWire.h"

namespace vmft::arbiter {

class PosixLineWire final : public LineWire {
 public:
  PosixLineWire() = default;
  ~PosixLineWire() override;
  PosixLineWire(const PosixLineWire&) = delete;
  PosixLineWire& operator=(const PosixLineWire&) = delete;

  TimePoint now() override;
  /// Resolves `host` at each connect (a name can block in the resolver beyond the deadline,
  /// an address never does) and tries each address it has.
  Status connect(const std::string& host, const std::string& port, TimePoint deadline) override;
  bool connected() const override { return fd_ >= 0; }
  Status send_line(const std::string& line, TimePoint deadline) override;
  Line receive_line(TimePoint deadline, size_t max_bytes) override;
  void close() override;

 private:
  int fd_ = -1;  // the open connection, or -1
};

}  // namespace vmft::arbiter
