#pragma once
// A live side's worker (ft::Worker) in the simulation: its tasks run in a fiber, one at a time,
// in the order posted, each as a step of the scheduler; it parks when it has none. What its
// tasks wait for parks it too: a sleep (its clock(), which the live side's arbiter client
// sleeps on) until the simulated time has passed, a wait for the vCPU until the vCPU's
// boundary task is done. Like the vCPU of its process it can be paused (SIGSTOP) and killed.
#include <deque>
#include <functional>
#include <string>

#include "vmft/ft/Clock.h"
#include "vmft/ft/Worker.h"
#include "vmft/sim/Fiber.h"
#include "vmft/sim/Parker.h"
#include "vmft/sim/Scheduler.h"

namespace vmft::sim {

class SimWorker final : public ft::Worker {
 public:
  /// `name`: for the trace.
  SimWorker(Scheduler& scheduler, std::string name);
  /// finish()es.
  ~SimWorker() override;

  void post(std::function<void()> task) override;
  /// From a task of the scheduler: the worker starts no task after this. It cannot wait for
  /// the current one: that ends in a step of its own, its sleeps and waits returning at once.
  void stop() override;
  bool wait(ft::Completion& done) override;
  /// The scheduler's thread, between its steps: stops the worker and runs its fiber to its
  /// end, its sleeps and waits returning at once, as the end of a simulated run must (what
  /// the tasks use must still be there: their live side, say). Whatever they ask of the world
  /// then must be refused (the scenario cuts a dead process's way to the arbiter), and a
  /// retry loop in them must end on its own (its process's stop request).
  void finish();

  /// Simulated time; sleep_for() parks the worker (only its tasks may sleep on it).
  ft::Clock& clock() { return clock_; }
  /// What its tasks wait on (the arbiter's reply): it parks the worker, and its wait gives up
  /// once the worker stops.
  Parker& parker() { return parker_; }
  /// Called after each time the worker ran: what it did may concern its process's vCPU (a
  /// stop request, a task for the machine), which is poked to look.
  void after_running(std::function<void()> poke) { after_running_ = std::move(poke); }
  /// The process stopped (SIGSTOP): the worker does not run until resume().
  void pause();
  void resume();
  /// The process died: the worker never runs again.
  void kill();
  bool stopping() const { return stopping_; }

 private:
  class Clock final : public ft::Clock {
   public:
    explicit Clock(SimWorker& worker) : worker_(worker) {}
    TimePoint now() override;
    void sleep_for(Duration d) override;

   private:
    SimWorker& worker_;
  };

  class WorkerParker final : public Parker {
   public:
    explicit WorkerParker(SimWorker& worker) : worker_(worker) {}
    Time now() const override { return worker_.scheduler_.now(); }
    void park() override { worker_.park(); }
    void wake() override { worker_.schedule_run(); }
    bool stopping() const override { return worker_.stopping_; }

   private:
    SimWorker& worker_;
  };

  void body();
  void park();          // the fiber: back to the scheduler until run()
  void schedule_run();  // a task that runs the fiber, once however often asked
  void run();

  Scheduler& scheduler_;
  std::string name_;
  Clock clock_{*this};
  WorkerParker parker_{*this};
  Fiber fiber_;
  std::deque<std::function<void()>> tasks_;
  std::function<void()> after_running_;
  bool stopping_ = false;
  bool paused_ = false;
  bool killed_ = false;
  bool run_scheduled_ = false;
  bool run_held_ = false;  // asked to run while paused
  bool started_ = false;
};

}  // namespace vmft::sim
