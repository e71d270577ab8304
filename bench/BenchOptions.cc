#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "Bench.h"

namespace vmft::bench {

namespace {

constexpr int kUsageExit = 2;

constexpr const char* kUsage =
    "usage: vmft-bench [--runs N] [--build-dir DIR] [--kills N] [--joins N] [--catchups N]\n"
    "                  [--skip-failover | --only-failover] [--skip-join | --only-join]\n"
    "                  [--skip-frames | --only-frames] [--no-build]\n"
    "(scripts/bench builds what it needs, then runs this with the same options)\n"
    "--runs N: runs of each measurement of the coremark, echo, counter and frame NIC sections\n"
    "(default 3); --kills N: how many kills the failover section makes (default 20); --catchups\n"
    "N: how many kills its catch-up part makes, half with each bound (default 10); --joins N: how\n"
    "many joins the join section makes per guest size (default 5); --build-dir DIR: the build\n"
    "whose programs and guests it runs (default build; the one vmft-bench was built in).\n"
    "--skip-failover, --skip-join and --skip-frames leave that section out; --only-failover,\n"
    "--only-join and --only-frames run only those sections. The frame NIC section needs root (it\n"
    "is skipped, with a word, without it). --no-build is scripts/bench's, and ignored here.\n"
    "A benchmark, not a test: it exits 0 whether or not the goals are met, and non-zero only when\n"
    "a run fails, a replay or a backup does not match, two runs disagree on the guest's checksum\n"
    "or its instruction count, a counter (redis-server's too) does not hold exactly the INCRs\n"
    "sent to it, a failover or a join loses an acknowledged INCR or lets a value go backwards,\n"
    "or a join does not complete.\n";

[[noreturn]] void usage_error(const std::string& why) {
  std::fprintf(stderr, "bench: %s\n", why.c_str());
  std::exit(kUsageExit);
}

int positive(const std::string& flag, const std::string& text) {
  const bool digits = !text.empty() && text[0] != '0' &&
                      text.find_first_not_of("0123456789") == std::string::npos && text.size() <= 9;
  if (!digits) usage_error(flag + " wants a positive integer, got '" + text + "'");
  return std::stoi(text);
}

}  // namespace

Options parse_options(int argc, char** argv) {
  Options o;
  bool skip_failover = false, only_failover = false;
  bool skip_join = false, only_join = false;
  bool skip_frames = false, only_frames = false;
  for (int i = 1; i < argc; i++) {
    const std::string arg = argv[i];
    const auto value = [&](const char* wanted) {
      if (i + 1 >= argc) usage_error(arg + " needs " + wanted);
      return std::string(argv[++i]);
    };
    if (arg == "--no-build") {
    } else if (arg == "--runs") {
      o.runs = positive("--runs", value("a number"));
    } else if (arg == "--build-dir") {
      o.build_dir = value("a directory");
    } else if (arg == "--kills") {
      o.kills = positive("--kills", value("a number"));
    } else if (arg == "--joins") {
      o.joins = positive("--joins", value("a number"));
    } else if (arg == "--catchups") {
      o.catchups = positive("--catchups", value("a number"));
    } else if (arg == "--skip-failover") {
      skip_failover = true;
    } else if (arg == "--only-failover") {
      only_failover = true;
    } else if (arg == "--skip-join") {
      skip_join = true;
    } else if (arg == "--only-join") {
      only_join = true;
    } else if (arg == "--skip-frames") {
      skip_frames = true;
    } else if (arg == "--only-frames") {
      only_frames = true;
    } else if (arg == "-h" || arg == "--help") {
      std::fputs(kUsage, stdout);
      std::exit(0);
    } else {
      usage_error("unknown argument '" + arg + "' (try --help)");
    }
  }
  if (only_failover || only_join || only_frames) {
    o.others = false;
    o.failover = only_failover;
    o.join = only_join;
    o.frames = only_frames;
  }
  if (skip_failover) o.failover = false;
  if (skip_join) o.join = false;
  if (skip_frames) o.frames = false;
  if (o.frames && ::geteuid() != 0) {
    std::fprintf(stderr,
                 "bench: the frame NIC section needs root (its network lab); leaving it out\n");
    o.frames = false;
  }
  if (!o.others && !o.failover && !o.join && !o.frames) {
    usage_error("the --skip-* and --only-* options given leave nothing to run");
  }
  return o;
}

}  // namespace vmft::bench
