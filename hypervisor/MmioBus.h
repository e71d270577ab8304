#pragma once

#include <unicorn/unicorn.h>

#include <exception>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "vmft/devices/MmioDevice.h"
#include "vmft/hypervisor/Snapshot.h"

namespace vmft::hypervisor {

/// Maps devices into the guest's MMIO space. Unicorn delivers a 64-bit access as two 32-bit
/// halves, low first; the bus turns them back into whole-register accesses (see abi.h):
/// a low-half read latches the register, a high-half write commits it.
class MmioBus {
 public:
  /// Called with what a device threw; exceptions must not cross Unicorn's C frames.
  using ErrorHandler = std::function<void(const devices::MmioDevice&, std::exception_ptr)>;
  /// Called after a device ran: `wrote` for a committed write, false for a read.
  using AfterAccess = std::function<void(bool wrote)>;
  /// `after_access` runs after every access that reached a device; `on_error` when a device
  /// throws.
  MmioBus(uc_engine* uc, AfterAccess after_access, ErrorHandler on_error);
  ~MmioBus();

  /// Maps `device` at one page starting at `base`. The device must outlive the bus.
  void map(uint64_t base, devices::MmioDevice& device);

  /// Each window's reassembly state, in the order the windows were mapped (for snapshots).
  std::vector<MmioLatch> latches() const;
  /// Restores what latches() returned on a bus with the same windows; throws SnapshotError for
  /// another number of windows.
  void restore_latches(std::span<const MmioLatch> latches);

 private:
  struct Window;
  static uint64_t on_read(uc_engine*, uint64_t offset, unsigned size, void* user);
  static void on_write(uc_engine*, uint64_t offset, unsigned size, uint64_t value, void* user);

  uc_engine* uc_;
  AfterAccess after_access_;
  ErrorHandler on_error_;
  std::vector<std::unique_ptr<Window>> windows_;
};

}  // namespace vmft::hypervisor
