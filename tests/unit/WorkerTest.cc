// vmft's worker for a live side's decisions: a thread of its own, tasks in order, a wait for
// another thread that ends when that thread is done or when the worker stops.
#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "FtFakes.h"
#include "vmft/ft/Worker.h"

namespace vmft::testing {
namespace {

TEST(ThreadWorker, RunsItsTasksInTheOrderPostedOffTheCallersThread) {
  ft::ThreadWorker worker;
  std::mutex mutex;
  std::vector<int> ran;
  bool elsewhere = true;
  const auto caller = std::this_thread::get_id();
  for (int i = 0; i < 5; i++) {
    worker.post([&, i] {
      std::lock_guard lock(mutex);
      ran.push_back(i);
      elsewhere = elsewhere && std::this_thread::get_id() != caller;
    });
  }
  ASSERT_TRUE(eventually([&] {
    std::lock_guard lock(mutex);
    return ran.size() == 5;
  }));
  std::lock_guard lock(mutex);
  EXPECT_EQ(ran, (std::vector<int>{0, 1, 2, 3, 4}));
  EXPECT_TRUE(elsewhere);
}

TEST(ThreadWorker, AWaitEndsWithWhatAnotherThreadSet) {
  ft::ThreadWorker worker;
  auto done = std::make_shared<ft::Completion>();
  std::atomic<int> result{-1};
  worker.post([&] { result = worker.wait(*done) && done->ok(); });
  std::thread other([done] { done->set(true); });
  other.join();
  ASSERT_TRUE(eventually([&] { return result != -1; }));
  EXPECT_EQ(result, 1);
}

TEST(ThreadWorker, AStopEndsAWaitThatNothingWillEnd) {
  ft::ThreadWorker worker;
  ft::Completion never;
  std::atomic<bool> waiting{false}, returned{false}, waited{true};
  worker.post([&] {
    waiting = true;
    waited = worker.wait(never);
    returned = true;
  });
  worker.post([&] { ADD_FAILURE() << "a task posted before the stop ran after it"; });
  ASSERT_TRUE(eventually([&] { return waiting.load(); }));
  worker.stop();  // returns once the wait gave up
  EXPECT_TRUE(returned);
  EXPECT_FALSE(waited);
  worker.post([] { ADD_FAILURE() << "a task posted after the stop ran"; });
}

}  // namespace
}  // namespace vmft::testing
