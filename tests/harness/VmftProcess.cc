#include "VmftProcess.h"

#include <sched.h>
#include <sys/resource.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#ifndef VMFT_BINARY
#error "VMFT_BINARY must name the vmft executable (a string literal)"
#endif
#ifndef VMFT_GUEST_DIR
#error "VMFT_GUEST_DIR must name the directory of the built guests (a string literal)"
#endif

namespace vmft::integration {

namespace {

std::vector<std::string> command_line(const std::string& command, const std::string& guest,
                                      const std::vector<std::string>& args) {
  std::vector<std::string> argv = {VMFT_BINARY, command, guest_path(guest)};
  argv.insert(argv.end(), args.begin(), args.end());
  const bool paired = command == "primary" || command == "backup";
  if (!paired) return argv;
  // A sanitized vmft is several times slower, its io thread too: a side of a pair that does
  // not choose its --peer-timeout gets vmft's default (200 ms) stretched as the tests' own
  // timeouts are.
  const auto given = [&](const char* option) {
    return std::find(args.begin(), args.end(), option) != args.end();
  };
  if (VMFT_TEST_TIME_SCALE > 1 && !given("--peer-timeout")) {
    argv.insert(argv.end(), {"--peer-timeout", std::to_string(scaled(Duration(200)).count())});
  }
  if (!given("--events")) argv.insert(argv.end(), {"--events", "fd:3"});
  return argv;
}

// Whether vmft writes its events to fd 3, which the process then captures.
bool events_on_fd3(const std::vector<std::string>& argv) {
  for (size_t i = 0; i + 1 < argv.size(); i++) {
    if (argv[i] == "--events" && argv[i + 1] == "fd:3") return true;
  }
  return false;
}

std::vector<std::string> wrapped(std::vector<std::string> wrapper,
                                 const std::vector<std::string>& argv) {
  wrapper.insert(wrapper.end(), argv.begin(), argv.end());
  return wrapper;
}

// The complete lines of `text`, each parsed as an event.
std::vector<Event> parse_events(const std::string& text) {
  std::vector<Event> events;
  size_t start = 0;
  for (size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) {
    events.push_back(nlohmann::json::parse(text.substr(start, end - start)));
  }
  return events;
}

// Whether `event` is named `name` and holds every field of `fields` with the same value.
bool matches(const Event& event, const std::string& name, const nlohmann::json& fields) {
  if (event.value("event", "") != name) return false;
  for (const auto& [key, value] : fields.items()) {
    if (!event.contains(key) || event.at(key) != value) return false;
  }
  return true;
}

const Event* find_event(const std::vector<Event>& events, const std::string& name,
                        const nlohmann::json& fields, size_t from) {
  for (size_t i = from; i < events.size(); i++) {
    if (matches(events[i], name, fields)) return &events[i];
  }
  return nullptr;
}

}  // namespace

std::string guest_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  return std::string(VMFT_GUEST_DIR) + "/" + name + ".elf";
}

FinishedVmft run_vmft(const std::vector<std::string>& args, Duration timeout) {
  std::vector<std::string> argv = {VMFT_BINARY};
  argv.insert(argv.end(), args.begin(), args.end());
  Subprocess p(argv);
  const auto code = p.wait_for_exit(timeout);
  return {code.value_or(-1), p.stdout_text(), p.stderr_text()};
}

VmftProcess::VmftProcess(Argv command) : process_(command.argv, events_on_fd3(command.argv)) {}

VmftProcess::VmftProcess(const std::string& guest, const std::vector<std::string>& args)
    : VmftProcess(Argv{command_line("run", guest, args)}) {}

VmftProcess::VmftProcess(const std::string& command, const std::string& guest,
                         const std::vector<std::string>& args)
    : VmftProcess(Argv{command_line(command, guest, args)}) {}

VmftProcess::VmftProcess(const std::vector<std::string>& wrapper, const std::string& command,
                         const std::string& guest, const std::vector<std::string>& args)
    : VmftProcess(Argv{wrapped(wrapper, command_line(command, guest, args))}) {}

VmftProcess::VmftProcess(const std::vector<std::string>& args)
    : VmftProcess(std::vector<std::string>{}, args) {}

VmftProcess::VmftProcess(const std::vector<std::string>& wrapper,
                         const std::vector<std::string>& args)
    : VmftProcess(Argv{[&] {
        std::vector<std::string> argv = {VMFT_BINARY};
        argv.insert(argv.end(), args.begin(), args.end());
        return wrapped(wrapper, argv);
      }()}) {}

std::optional<Event> VmftProcess::wait_for_event(const std::string& name,
                                                 const nlohmann::json& fields, size_t from,
                                                 Duration timeout) {
  return wait_for_first([&](const Event& event) { return matches(event, name, fields); }, from,
                        timeout);
}

std::optional<Event> VmftProcess::wait_for_any_event(const std::vector<std::string>& names,
                                                     size_t from, Duration timeout) {
  return wait_for_first(
      [&](const Event& event) {
        return std::any_of(names.begin(), names.end(), [&](const std::string& name) {
          return matches(event, name, nlohmann::json::object());
        });
      },
      from, timeout);
}

std::optional<Event> VmftProcess::wait_for_first(const std::function<bool(const Event&)>& wanted,
                                                 size_t from, Duration timeout) {
  std::optional<Event> found;
  process_.wait_for_fd3(
      [&](const std::string& text) {
        const auto events = parse_events(text);
        for (size_t i = from; i < events.size() && !found; i++) {
          if (wanted(events[i])) found = events[i];
        }
        return found.has_value();
      },
      timeout);
  return found;
}

std::vector<Event> VmftProcess::events() const { return parse_events(process_.fd3_text()); }

bool VmftProcess::has_event(const std::string& name, const nlohmann::json& fields,
                            size_t from) const {
  return find_event(events(), name, fields, from) != nullptr;
}

std::optional<uint16_t> VmftProcess::listening_port(const std::string& protocol, Duration timeout) {
  const std::regex line("listening on " + protocol + R"( 127\.0\.0\.1:(\d+))");
  std::smatch match;
  std::string log;
  const bool found = process_.wait_for_stderr(
      [&](const std::string& text) {
        log = text;
        return std::regex_search(log, match, line);
      },
      timeout);
  if (!found) return std::nullopt;
  const unsigned long port = std::stoul(match[1].str());
  if (port == 0 || port > 65535) return std::nullopt;
  return static_cast<uint16_t>(port);
}

bool VmftProcess::wait_for_console(const std::string& text, Duration timeout) {
  return process_.wait_for_stdout(
      [&](const std::string& console) { return console.find(text) != std::string::npos; }, timeout);
}

void VmftProcess::terminate() { process_.signal(SIGTERM); }

bool VmftProcess::wait_for_log(const std::string& text, Duration timeout) {
  return process_.wait_for_stderr(
      [&](const std::string& log) { return log.find(text) != std::string::npos; }, timeout);
}

bool VmftProcess::wait_for_log(const std::string& text, size_t from, Duration timeout) {
  return process_.wait_for_stderr(
      [&](const std::string& log) {
        return log.size() > from && log.find(text, from) != std::string::npos;
      },
      timeout);
}

bool VmftProcess::wait_for_log(const std::function<bool(const std::string&)>& done,
                               Duration timeout) {
  return process_.wait_for_stderr(done, timeout);
}

void VmftProcess::interrupt() { process_.signal(SIGINT); }

void VmftProcess::kill() { process_.signal(SIGKILL); }

namespace {

// Whether every thread of `pid` is in the stopped state ('T' in /proc/<pid>/task/*/stat).
bool all_threads_stopped(pid_t pid) {
  std::error_code error;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // "<tid> (<comm>) <state> ...": the comm may hold spaces, the last ')' ends it.
    const size_t end = line.rfind(')');
    if (end == std::string::npos || end + 2 >= line.size() || line[end + 2] != 'T') return false;
  }
  return !error;
}

bool confine_thread(pid_t tid, int cpu, int niceness) {
  cpu_set_t one_cpu;
  CPU_ZERO(&one_cpu);
  CPU_SET(cpu, &one_cpu);
  return ::sched_setaffinity(tid, sizeof one_cpu, &one_cpu) == 0 &&
         ::setpriority(PRIO_PROCESS, static_cast<id_t>(tid), niceness) == 0;
}

}  // namespace

bool VmftProcess::confine(int cpu, int niceness) {
  std::error_code error;
  bool all = true;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid()) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
    const pid_t tid = static_cast<pid_t>(std::stol(task.path().filename().string()));
    all = confine_thread(tid, cpu, niceness) && all;
  }
  return all && !error;
}

bool VmftProcess::confine_vcpu(int cpu, int niceness) {
  return confine_thread(pid(), cpu, niceness);
}

bool VmftProcess::release_vcpu() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  errno = 0;
  const int niceness = ::getpriority(PRIO_PROCESS, 0);  // this thread's, on Linux
  return errno == 0 && ::sched_getaffinity(0, sizeof allowed, &allowed) == 0 &&
         ::sched_setaffinity(pid(), sizeof allowed, &allowed) == 0 &&
         ::setpriority(PRIO_PROCESS, static_cast<id_t>(pid()), niceness) == 0;
}

bool VmftProcess::freeze(Duration timeout) {
  process_.signal(SIGSTOP);
  // kill() returns before the stop has reached every thread: one already running may go on
  // for a moment (long, on a busy virtual machine), and could still answer the other side.
  const auto deadline = std::chrono::steady_clock::now() + scaled(timeout);
  while (!all_threads_stopped(pid())) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

void VmftProcess::thaw() { process_.signal(SIGCONT); }

std::optional<uint64_t> VmftProcess::resident_bytes() const {
  std::ifstream status("/proc/" + std::to_string(pid()) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    // "VmRSS:     12345 kB"
    if (line.rfind("VmRSS:", 0) == 0) return std::stoull(line.substr(6)) * 1024;
  }
  return std::nullopt;  // gone, or a zombie (which has no VmRSS line)
}

std::optional<int> VmftProcess::wait_for_exit(Duration timeout) {
  return process_.wait_for_exit(timeout);
}

// Tried on a thread of its own, which raises its niceness by one and sets it back.
bool may_lower_niceness() {
  bool may = false;
  std::thread([&may] {
    errno = 0;
    const int niceness = ::getpriority(PRIO_PROCESS, 0);
    if (errno != 0) return;
    if (niceness >= 19) {  // confine_vcpu raises nothing, so release_vcpu lowers nothing
      may = true;
      return;
    }
    may = ::setpriority(PRIO_PROCESS, 0, niceness + 1) == 0 &&
          ::setpriority(PRIO_PROCESS, 0, niceness) == 0;
  }).join();
  return may;
}

int first_allowed_cpu() {
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (::sched_getaffinity(0, sizeof allowed, &allowed) != 0) return 0;
  for (int cpu = 0; cpu < CPU_SETSIZE; cpu++) {
    if (CPU_ISSET(cpu, &allowed)) return cpu;
  }
  return 0;
}

}  // namespace vmft::integration
