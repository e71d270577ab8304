#include "Bench.h"

#include <signal.h>
#include <stdlib.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace vmft::bench {

namespace fs = std::filesystem;

const fs::path& workdir() {
  static const fs::path dir = [] {
    std::string pattern = (fs::temp_directory_path() / "vmft-bench-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) fail("cannot make a directory like " + pattern);
    return fs::path(pattern);
  }();
  return dir;
}

namespace {

std::mutex lab_mutex;
std::string lab_name;

}  // namespace

void set_lab_to_remove(const std::string& name) {
  std::lock_guard lock(lab_mutex);
  lab_name = name;
}

std::string lab_to_remove() {
  std::lock_guard lock(lab_mutex);
  return lab_name;
}

namespace {

// A process's two streams, as one text to show: vmft's log is its stderr, the guest's console
// (or a client's report) its stdout.
std::string both_streams(const std::string& out, const std::string& err) {
  if (out.empty()) return err;
  if (err.empty()) return out;
  return "(stdout)\n" + out + (out.ends_with('\n') ? "" : "\n") + "(stderr)\n" + err;
}

}  // namespace

Output output_of(const std::string& name, const integration::VmftProcess& process) {
  return {name, both_streams(process.console(), process.log())};
}

Output output_of(const std::string& name, const integration::Subprocess& process) {
  return {name, both_streams(process.stdout_text(), process.stderr_text())};
}

Output output_of(const std::string& name, const integration::CommandResult& result) {
  return {name, both_streams(result.out, result.err)};
}

void fail(const std::string& why, const std::string& what, std::vector<Output> shown) {
  throw Failure(why, what, std::move(shown));
}

void fail_run(const std::string& what, std::vector<Output> shown) {
  fail(what + " run did not complete (see its output above)", what, std::move(shown));
}

namespace {

template <typename Process>
int stop_any(Process& process) {
  process.signal(SIGTERM);
  if (const auto code = process.wait_for_exit(kStopTimeout)) return *code;
  std::fprintf(stderr, "bench: process %d still runs %lld s after SIGTERM; killing it\n",
               static_cast<int>(process.pid()),
               static_cast<long long>(kStopTimeout.count() / 1000));
  process.signal(SIGKILL);
  return process.wait_for_exit(kStopTimeout).value_or(128 + SIGKILL);
}

// VmftProcess signals through its own names.
struct VmftSignals {
  integration::VmftProcess& p;
  void signal(int signo) { signo == SIGKILL ? p.kill() : p.terminate(); }
  std::optional<int> wait_for_exit(Duration timeout) { return p.wait_for_exit(timeout); }
  pid_t pid() const { return p.pid(); }
};

}  // namespace

int stop_process(integration::VmftProcess& process) {
  VmftSignals signals{process};
  return stop_any(signals);
}

int stop_process(integration::Subprocess& process) { return stop_any(process); }

namespace {

template <typename Process>
int finish_any(Process& process, const std::string& what, const std::vector<Output>& shown) {
  const auto code = process.wait_for_exit(kExitTimeout);
  if (!code) {
    fail_run(what + " (still running after " + std::to_string(kExitTimeout.count() / 1000) + " s)",
             shown);
  }
  return *code;
}

}  // namespace

int finish_process(integration::VmftProcess& process, const std::string& what,
                   const std::vector<Output>& shown) {
  return finish_any(process, what, shown);
}

int finish_process(integration::Subprocess& process, const std::string& what,
                   const std::vector<Output>& shown) {
  return finish_any(process, what, shown);
}

std::vector<std::string> wrapped(const std::vector<std::string>& wrapper,
                                 const std::vector<std::string>& argv) {
  std::vector<std::string> all = wrapper;
  all.insert(all.end(), argv.begin(), argv.end());
  return all;
}

double median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

double max_of(const std::vector<double>& values) {
  return values.empty() ? 0 : *std::max_element(values.begin(), values.end());
}

const char* verdict(bool met) { return met ? "met" : "NOT met"; }

double number(const std::string& text, const std::string& what) {
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size()) {
    fail(what + ": '" + text + "' is not a number");
  }
  return value;
}

}  // namespace vmft::bench
