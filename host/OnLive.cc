#include "vmft/host/OnLive.h"

#include <spawn.h>
#include <spdlog/spdlog.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

extern char** environ;

namespace vmft::host {

OnLive::~OnLive() {
  *gone_ = true;
  if (!waiter_.joinable()) return;
  if (*finished_) {
    waiter_.join();
  } else {
    spdlog::info("the --on-live command still runs; vmft does not wait for it");
    waiter_.detach();
  }
}

void OnLive::run(const std::string& pair, const std::string& id, const std::string& role,
                 uint64_t epoch) {
  if (command_.empty() || ran_) return;
  ran_ = true;
  std::vector<std::string> env_text;
  for (char** e = environ; *e; ++e) env_text.emplace_back(*e);
  env_text.push_back("VMFT_PAIR=" + pair);
  env_text.push_back("VMFT_ID=" + id);
  env_text.push_back("VMFT_ROLE=" + role);
  env_text.push_back("VMFT_EPOCH=" + std::to_string(epoch));
  std::vector<char*> env;
  for (auto& e : env_text) env.push_back(e.data());
  env.push_back(nullptr);
  std::string sh = "/bin/sh", dash_c = "-c";
  char* argv[] = {sh.data(), dash_c.data(), command_.data(), nullptr};
  pid_t pid = 0;
  const int err = posix_spawn(&pid, "/bin/sh", nullptr, nullptr, argv, env.data());
  if (err != 0) {
    spdlog::error("cannot run the --on-live command: {}", std::strerror(err));
    return;
  }
  spdlog::info("running the --on-live command (pid {}): {}", pid, command_);
  waiter_ = std::thread([pid, gone = gone_, finished = finished_] {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    *finished = true;
    if (*gone) return;
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
      spdlog::info("the --on-live command succeeded");
    } else if (WIFEXITED(status)) {
      spdlog::warn("the --on-live command failed with exit code {}", WEXITSTATUS(status));
    } else {
      spdlog::warn("the --on-live command ended by signal {}", WTERMSIG(status));
    }
  });
}

}  // namespace vmft::host
