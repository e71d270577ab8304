#include "MmioBus.h"

#include <stdexcept>

#include "vmft/guest/abi.h"

namespace vmft::hypervisor {

namespace {
constexpr uint64_t kNoRegister = UINT64_MAX;

uint64_t extract(uint64_t value, uint64_t offset, unsigned size) {
  const uint64_t shifted = value >> (8 * (offset & 7));
  return size >= 8 ? shifted : shifted & ((1ULL << (8 * size)) - 1);
}
}  // namespace

struct MmioBus::Window {
  MmioBus* bus = nullptr;
  devices::MmioDevice* device = nullptr;
  uint64_t latched_reg = kNoRegister;
  uint64_t latched_value = 0;
  uint64_t pending_reg = kNoRegister;
  uint64_t pending_low = 0;
};

MmioBus::MmioBus(uc_engine* uc, AfterAccess after_access, ErrorHandler on_error)
    : uc_(uc), after_access_(std::move(after_access)), on_error_(std::move(on_error)) {}

MmioBus::~MmioBus() = default;

void MmioBus::map(uint64_t base, devices::MmioDevice& device) {
  auto window = std::make_unique<Window>();
  window->bus = this;
  window->device = &device;
  const uc_err err =
      uc_mmio_map(uc_, base, VMFT_MMIO_PAGE_SIZE, on_read, window.get(), on_write, window.get());
  if (err != UC_ERR_OK) {
    throw std::runtime_error(std::string("cannot map device ") + device.name() + ": " +
                             uc_strerror(err));
  }
  windows_.push_back(std::move(window));
}

std::vector<MmioLatch> MmioBus::latches() const {
  std::vector<MmioLatch> out;
  for (const auto& w : windows_) {
    out.push_back({w->latched_reg, w->latched_value, w->pending_reg, w->pending_low});
  }
  return out;
}

void MmioBus::restore_latches(std::span<const MmioLatch> latches) {
  if (latches.size() != windows_.size()) {
    throw SnapshotError("the snapshot has " + std::to_string(latches.size()) +
                        " MMIO windows, this machine " + std::to_string(windows_.size()));
  }
  for (size_t i = 0; i < latches.size(); ++i) {
    Window& w = *windows_[i];
    w.latched_reg = latches[i].read_reg;
    w.latched_value = latches[i].read_value;
    w.pending_reg = latches[i].write_reg;
    w.pending_low = latches[i].write_low;
  }
}

uint64_t MmioBus::on_read(uc_engine*, uint64_t offset, unsigned size, void* user) {
  auto* w = static_cast<Window*>(user);
  try {
    const uint64_t reg = offset & ~7ULL;
    const bool high_half = (offset & 7) >= 4;
    if (!high_half || w->latched_reg != reg) {
      w->latched_value = w->device->read(reg);
      w->latched_reg = high_half ? kNoRegister : reg;
      w->bus->after_access_(false);
    }
    return extract(w->latched_value, offset, size);
  } catch (...) {
    w->bus->on_error_(*w->device, std::current_exception());
    return 0;
  }
}

void MmioBus::on_write(uc_engine*, uint64_t offset, unsigned size, uint64_t value, void* user) {
  auto* w = static_cast<Window*>(user);
  try {
    const uint64_t reg = offset & ~7ULL;
    const unsigned shift = 8 * (offset & 7);
    const uint64_t mask = size >= 8 ? ~0ULL : ((1ULL << (8 * size)) - 1);
    if (w->pending_reg != reg) {
      w->pending_reg = reg;
      w->pending_low = 0;
    }
    w->pending_low = (w->pending_low & ~(mask << shift)) | ((value & mask) << shift);
    // A write takes effect when its last byte (the top of the high half) is written.
    if (shift + 8 * size < 64) return;
    const uint64_t committed = w->pending_low;
    w->pending_reg = kNoRegister;
    w->latched_reg = kNoRegister;
    w->device->write(reg, committed);
    w->bus->after_access_(true);
  } catch (...) {
    w->bus->on_error_(*w->device, std::current_exception());
  }
}

}  // namespace vmft::hypervisor
