#pragma once
// A fiber's way to wait for something a task of the scheduler will bring (a reply on the
// simulated network), as its own code would block: Vcpu and SimWorker each have one for the
// code that runs on them. A wait parks the fiber and returns to the scheduler; wake() (from a
// task) has the fiber run again, to look whether what it waits for came.
#include "vmft/sim/Scheduler.h"

namespace vmft::sim {

class Parker {
 public:
  virtual ~Parker() = default;
  /// The fiber's own time: a vCPU's runs ahead of the scheduler's within its slice.
  virtual Time now() const = 0;
  /// The fiber: back to the scheduler until wake() (or a spurious wake: look again).
  virtual void park() = 0;
  /// From a task: the parked fiber runs again soon.
  virtual void wake() = 0;
  /// Its process is stopping or dead: a wait gives up rather than park.
  virtual bool stopping() const = 0;
};

}  // namespace vmft::sim
