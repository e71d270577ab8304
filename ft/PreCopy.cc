#include "vmft/ft/PreCopy.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <span>
#include <thread>
#include <vector>

#include "vmft/hypervisor/Snapshot.h"

namespace vmft::ft {

namespace {

using hypervisor::kSnapshotPageBytes;

// RAM is copied for a joining backup this much per pause of the guest while it runs.
constexpr size_t kPreCopyChunk = 4u << 20;
// A join that takes longer says how far it got this often.
constexpr auto kJoinProgressInterval = std::chrono::seconds(1);

// ram_page_hashes of `ram`, half of it on a second thread: the guest waits for this.
std::vector<uint64_t> page_hashes_in_parallel(std::span<const uint8_t> ram) {
  const size_t pages = (ram.size() + kSnapshotPageBytes - 1) / kSnapshotPageBytes;
  const size_t split = pages / 2 * kSnapshotPageBytes;
  std::vector<uint64_t> second;
  std::thread helper([&] { second = hypervisor::ram_page_hashes(ram.subspan(split)); });
  std::vector<uint64_t> hashes = hypervisor::ram_page_hashes(ram.first(split));
  helper.join();
  hashes.insert(hashes.end(), second.begin(), second.end());
  return hashes;
}

bool all_zero(std::span<const uint8_t> bytes) {
  return std::all_of(bytes.begin(), bytes.end(), [](uint8_t b) { return b == 0; });
}

}  // namespace

// Copies RAM to the joiner a chunk per pause while the guest runs, then pauses it once to send
// the pages that changed since and the snapshot.
void copy_to_joiner(const PreCopy& with, uint64_t session) {
  Clock& clock = with.clock;
  const auto started = clock.now();
  std::vector<uint64_t> sent;  // the hash of every page as sent
  std::vector<uint8_t> copy;
  uint64_t sent_bytes = 0;
  uint64_t ram_bytes = 0;
  auto last_report = started;
  for (uint64_t offset = 0;; offset += kPreCopyChunk) {
    if (clock.now() - last_report >= kJoinProgressInterval) {
      last_report = clock.now();
      const double seconds = std::chrono::duration<double>(last_report - started).count();
      spdlog::info(
          "a backup joins pair '{}': {:.1f} of {:.1f} MiB of RAM copied, {:.1f} MiB of it sent "
          "({:.1f} MiB/s), {} pages left to copy before the pause",
          with.pair, offset / 1048576.0, ram_bytes / 1048576.0, sent_bytes / 1048576.0,
          sent_bytes / 1048576.0 / seconds, (ram_bytes - offset) / kSnapshotPageBytes);
    }
    bool more = false;
    const bool ok = with.on_vcpu([&](hypervisor::Machine& machine) {
      const auto ram = machine.ram();
      ram_bytes = ram.size();
      if (offset >= ram.size()) return;
      const auto chunk = ram.subspan(offset, std::min<size_t>(kPreCopyChunk, ram.size() - offset));
      copy.assign(chunk.begin(), chunk.end());
      more = true;
    });
    if (!ok) return;
    if (!more) break;
    const auto hashes = hypervisor::ram_page_hashes(copy);
    sent.insert(sent.end(), hashes.begin(), hashes.end());
    // The joiner's RAM starts zeroed: only runs of pages with something in them travel.
    const auto page = [&](size_t p) {
      return std::span<const uint8_t>(copy).subspan(
          p * kSnapshotPageBytes,
          std::min<size_t>(kSnapshotPageBytes, copy.size() - p * kSnapshotPageBytes));
    };
    for (size_t p = 0; p < hashes.size();) {
      if (all_zero(page(p))) {
        ++p;
        continue;
      }
      size_t q = p;
      while (q < hashes.size() && !all_zero(page(q))) ++q;
      const size_t begin = p * kSnapshotPageBytes;
      const size_t end = std::min<size_t>(q * kSnapshotPageBytes, copy.size());
      if (!with.channel.send_ram(session, offset + begin,
                                 std::span<const uint8_t>(copy).subspan(begin, end - begin))) {
        return;
      }
      sent_bytes += end - begin;
      p = q;
    }
  }
  const double precopy_ms = ms_since(clock, started);

  double pause_ms = 0;
  size_t changed = 0;
  uint64_t icount = 0;
  bool streaming = false;
  const bool ok = with.on_vcpu([&](hypervisor::Machine& machine) {
    const auto paused = clock.now();
    const auto ram = machine.ram();
    const auto now = with.hash_pages ? with.hash_pages(ram) : page_hashes_in_parallel(ram);
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> runs;
    for (size_t p = 0; p < now.size();) {
      if (p < sent.size() && now[p] == sent[p]) {
        ++p;
        continue;
      }
      size_t q = p;
      while (q < now.size() && (q >= sent.size() || now[q] != sent[q])) ++q;
      const size_t begin = p * kSnapshotPageBytes;
      const size_t end = std::min<size_t>(q * kSnapshotPageBytes, ram.size());
      runs.emplace_back(begin, std::vector<uint8_t>(ram.begin() + begin, ram.begin() + end));
      changed += q - p;
      p = q;
    }
    const hypervisor::MachineSnapshot snapshot = machine.snapshot(hypervisor::RamCopy::kNone);
    icount = snapshot.icount;
    const uint64_t seq = with.last_seq();
    // From here on every output waits for the joiner, as in a pair.
    with.gate.hold_again(seq);
    streaming = with.channel.start_stream(session, seq, snapshot.icount, runs,
                                          hypervisor::encode_snapshot(snapshot));
    if (!streaming) with.gate.open();
    pause_ms = ms_since(clock, paused);
  });
  if (!ok || !streaming) return;
  spdlog::info(
      "a backup joins pair '{}': {:.1f} MiB of RAM sent in {:.0f} ms while the guest ran, then "
      "the guest paused {:.1f} ms to send {} changed pages and its state at instruction {}",
      with.pair, sent_bytes / 1048576.0, precopy_ms, pause_ms, changed, icount);
}

}  // namespace vmft::ft
