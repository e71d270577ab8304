#pragma once
// How a live side brings a joining backup up to date: RAM copied while the guest runs, then
// one short pause to send the pages that changed since and the machine's snapshot, after which
// every output waits for the joiner as in a pair.

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "vmft/ft/Clock.h"
#include "vmft/ft/PrimaryEnd.h"
#include "vmft/hypervisor/Machine.h"
#include "vmft/hypervisor/OutputGate.h"

namespace vmft::ft {

/// Runs a task on the vCPU thread at its next safe point and waits for it; false if the run
/// ended, the task threw, or a stop came first.
using OnVcpu = std::function<bool(const std::function<void(hypervisor::Machine&)>&)>;

/// How the pause hashes RAM's pages (hypervisor::ram_page_hashes, in page order), while the
/// guest waits for it. None: on this thread and a second one, each half of RAM (vmft's way);
/// the simulation, whose run has one thread, hashes on it.
using PageHasher = std::function<std::vector<uint64_t>(std::span<const uint8_t> ram)>;

/// What a pre-copy works with; references outlive the copy.
struct PreCopy {
  std::string pair;  ///< for messages
  PrimaryEnd& channel;
  hypervisor::OutputGate& gate;
  Clock& clock;
  OnVcpu on_vcpu;
  std::function<uint64_t()> last_seq;  ///< vCPU thread: the last log record's seq
  PageHasher hash_pages = {};
};

/// Sends the joiner of `session` the machine, on the live side's own thread. If the joiner
/// goes meanwhile, the channel refuses what follows and this returns early.
void copy_to_joiner(const PreCopy& with, uint64_t session);

}  // namespace vmft::ft
