#pragma once
// Fakes for the host services a Machine uses, for in-process hypervisor tests.

#include <deque>
#include <string>
#include <vector>

#include "vmft/devices/Entropy.h"
#include "vmft/devices/HostClock.h"
#include "vmft/devices/Nic.h"
#include "vmft/devices/Timer.h"
#include "vmft/guest/abi.h"
#include "vmft/hypervisor/ElfLoader.h"
#include "vmft/hypervisor/InputQueue.h"
#include "vmft/hypervisor/LiveRole.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/logchannel/RecordStream.h"

namespace vmft::testing {

/// A clock that advances by a fixed step on every read, so each read is known in advance.
class SteppingClock final : public devices::HostClock {
 public:
  uint64_t wall_ns() override { return wall_ += 1000; }
  uint64_t mono_ns() override { return mono_ += 1000; }
  uint64_t wall_ = 0x1122334455667000ULL;
  uint64_t mono_ = 0;
};

class FixedEntropy final : public devices::EntropySource {
 public:
  explicit FixedEntropy(uint64_t value) : value_(value) {}
  uint64_t next() override { return value_; }

 private:
  uint64_t value_;
};

/// Fires the first `fires` arms at once (from the vCPU thread, through the input queue), so
/// the interrupt lands at the next block boundary, deterministically.
class ImmediateTimer final : public devices::TimerBackend {
 public:
  ImmediateTimer(hypervisor::InputQueue& inputs, int fires) : inputs_(inputs), fires_(fires) {}
  void arm(uint64_t, uint64_t generation) override {
    ++arms;
    if (fires_-- > 0) inputs_.push(hypervisor::TimerExpired{generation});
  }
  void disarm() override {}
  int arms = 0;

 private:
  hypervisor::InputQueue& inputs_;
  int fires_;
};

/// A log kept in memory.
class MemoryLog final : public logchannel::RecordSink {
 public:
  void append(const logchannel::Record& record) override { records.push_back(record); }
  void flush() override {}
  void close() override {}
  std::vector<logchannel::Record> records;
};

/// Records what the guest sends.
class RecordingNet final : public devices::NetBackend {
 public:
  bool has_udp() const override { return true; }
  bool has_tcp() const override { return true; }
  void send_udp(uint32_t ip, uint32_t port, std::vector<uint8_t> data) override {
    sent.push_back({VMFT_NIC_KIND_UDP, 0, ip, port, std::move(data)});
  }
  void send_tcp(uint32_t conn, std::vector<uint8_t> data) override {
    sent.push_back({VMFT_NIC_KIND_TCP_DATA, conn, 0, 0, std::move(data)});
  }
  void close_tcp(uint32_t conn) override {
    sent.push_back({VMFT_NIC_KIND_TCP_CLOSE, conn, 0, 0, {}});
  }
  std::optional<devices::FrameConfig> frames() const override { return frame_config; }
  void send_frame(std::vector<uint8_t> frame) override {
    sent.push_back({VMFT_NIC_KIND_FRAME, 0, 0, 0, std::move(frame)});
  }
  std::optional<devices::FrameConfig> frame_config;  ///< set: a frame NIC
  void flush() override { ++flushes; }
  void delivered(const devices::NetEvent&) override { ++delivered_count; }
  std::vector<devices::NetEvent> sent;
  int delivered_count = 0;
  int flushes = 0;
};

inline hypervisor::GuestImage test_guest(const std::string& name) {
  return hypervisor::load_elf_file(std::string(VMFT_GUEST_DIR) + "/" + name + ".elf", VMFT_RAM_BASE,
                                   16ULL << 20);
}

/// A guest from the build's guest directory, run on a Machine wired to the fakes above,
/// standalone, or recording to `log` when one is given.
struct TestVm {
  explicit TestVm(const std::string& guest, uint64_t entropy = 0, int timer_fires = 0,
                  logchannel::RecordSink* log = nullptr)
      : entropy_source(entropy),
        timer(inputs, timer_fires),
        role({clock, entropy_source, timer, net}, inputs, log) {
    machine = std::make_unique<hypervisor::Machine>(
        test_guest(guest),
        hypervisor::MachineConfig{
            16ULL << 20,
            [this](std::span<const uint8_t> b) { console.append(b.begin(), b.end()); }},
        role);
  }
  hypervisor::RunResult run() { return machine->run(); }

  hypervisor::InputQueue inputs;
  SteppingClock clock;
  FixedEntropy entropy_source;
  ImmediateTimer timer;
  RecordingNet net;
  hypervisor::LiveRole role;
  std::string console;
  std::unique_ptr<hypervisor::Machine> machine;
};

}  // namespace vmft::testing
