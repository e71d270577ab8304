// The live side's console writer: in order, off the releasing thread, and honest about what it
// has written (a backup that takes over writes again what it has not).
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <vector>

#include "vmft/host/ConsoleWriter.h"

namespace vmft::host {
namespace {

std::span<const uint8_t> bytes_of(const std::string& text) {
  return {reinterpret_cast<const uint8_t*>(text.data()), text.size()};
}

// A stdout that takes nothing until the test opens it, as one nobody drains.
struct StuckStdout {
  void write(std::span<const uint8_t> bytes) {
    std::unique_lock lock(mutex);
    ++started;
    cv.notify_all();
    cv.wait(lock, [this] { return open; });
    written.emplace_back(bytes.begin(), bytes.end());
  }
  void wait_started(int n) {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return started >= n; });
  }
  void unblock() {
    std::lock_guard lock(mutex);
    open = true;
    cv.notify_all();
  }
  std::mutex mutex;
  std::condition_variable cv;
  bool open = false;
  int started = 0;
  std::vector<std::string> written;
};

TEST(ConsoleWriter, WritesInOrderWithoutBlockingTheReleasingThreadAndSaysWhatItHasWritten) {
  StuckStdout out;
  ConsoleWriter console([&out](std::span<const uint8_t> b) { out.write(b); });
  EXPECT_EQ(console.released_through(10), 10u);  // nothing waits: all released has left
  console.write(5, bytes_of("five\n"));
  out.wait_started(1);
  console.write(7, bytes_of("seven\n"));  // returns although stdout takes nothing
  EXPECT_EQ(console.released_through(4), 4u);
  EXPECT_EQ(console.released_through(10), 4u) << "record 5's line is not written yet";
  out.unblock();
  console.flush();
  EXPECT_EQ(console.released_through(10), 10u);
  EXPECT_EQ(out.written, (std::vector<std::string>{"five\n", "seven\n"}));
}

TEST(ConsoleWriter, WritesWhatItWasGivenBeforeItStops) {
  std::vector<std::string> written;
  {
    ConsoleWriter console(
        [&written](std::span<const uint8_t> b) { written.emplace_back(b.begin(), b.end()); });
    for (int i = 1; i <= 100; ++i) console.write(i, bytes_of(std::to_string(i)));
  }
  ASSERT_EQ(written.size(), 100u);
  EXPECT_EQ(written.back(), "100");
}

}  // namespace
}  // namespace vmft::host
