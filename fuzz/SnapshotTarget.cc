// A machine snapshot, as a backup that joins a running primary receives it: whatever decodes
// must encode back to the same bytes (the encoding is deterministic).
#include "FuzzTargets.h"
#include "vmft/hypervisor/Snapshot.h"

namespace vmft::fuzz {

void snapshot(Bytes data) {
  hypervisor::MachineSnapshot decoded;
  try {
    decoded = hypervisor::decode_snapshot(data);
  } catch (const hypervisor::SnapshotError&) {
    return;
  }
  const auto encoded = hypervisor::encode_snapshot(decoded);
  expect(hypervisor::decode_snapshot(encoded) == decoded,
         "a snapshot changed in an encode-decode round trip");
}

}  // namespace vmft::fuzz
