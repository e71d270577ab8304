// --secret-file: real `vmft primary`, `vmft backup` and `vmft arbiter` processes that take
// only peers that prove they know the pair's secret, and say so when they refuse one.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "NetClients.h"
#include "PairProcesses.h"
#include "VmftProcess.h"
#include "vmft/ft/ExitCodes.h"

namespace vmft::integration {
namespace {

namespace fs = std::filesystem;

constexpr Duration kTimeout{10000};

// Secret files in a directory of the test's own, 0600 as an operator makes them.
class SecretFiles {
 public:
  SecretFiles() {
    std::string pattern = (fs::temp_directory_path() / "vmft-secret-it-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr) throw std::runtime_error("mkdtemp " + pattern);
    dir_ = pattern;
  }
  ~SecretFiles() {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }
  std::string make(const std::string& name, const std::string& secret) const {
    const fs::path path = dir_ / name;
    std::ofstream(path) << secret << "\n";
    ::chmod(path.c_str(), 0600);
    return path.string();
  }

 private:
  fs::path dir_;
};

PairSpec counter_pair(const std::string& secret_file) {
  PairSpec spec;
  spec.guest = "counter";
  spec.ready_line = "counter: ready\n";
  if (!secret_file.empty()) spec.options = {"--secret-file", secret_file};
  return spec;
}

// The backup options of `pair`, with `secret_file` instead of the pair's (none if empty).
std::vector<std::string> with_secret_file(const PairProcesses& pair,
                                          const std::string& secret_file) {
  std::vector<std::string> options;
  const auto given = pair.backup_options();
  for (size_t i = 0; i < given.size(); ++i) {
    if (given[i] == "--secret-file") {
      ++i;
      continue;
    }
    options.push_back(given[i]);
  }
  if (!secret_file.empty()) options.insert(options.end(), {"--secret-file", secret_file});
  return options;
}

void expect_counts(PairProcesses& pair) {
  UdpClient client;
  client.send_to(pair.udp_port(), "INCR k");
  EXPECT_EQ(client.receive(kTimeout), ":1\r\n") << pair.diagnostics();
  const auto exits = pair.stop();
  EXPECT_EQ(exits.primary, std::optional<int>(0)) << pair.diagnostics();
  EXPECT_EQ(exits.backup, std::optional<int>(0)) << pair.diagnostics();
}

TEST(Secret, ABackupWithThePairsSecretPairsAndThePairWorks) {
  SecretFiles files;
  PairProcesses pair(counter_pair(files.make("secret", "correct horse battery staple")));
  pair.pair();
  expect_counts(pair);
}

// A backup with another secret, then one with none, are refused: both sides log it, the
// backups exit 1, and the primary keeps waiting for one that knows the secret.
TEST(Secret, BackupsWithoutThePairsSecretAreRefusedAndARightOneStillPairs) {
  SecretFiles files;
  PairProcesses pair(counter_pair(files.make("secret", "correct horse battery staple")));

  const auto wrong = pair.start_backup(
      "counter", with_secret_file(pair, files.make("wrong", "incorrect horse battery staple")));
  EXPECT_EQ(wrong->wait_for_exit(kTimeout), std::optional<int>(1)) << wrong->log();
  EXPECT_NE(wrong->log().find("refused this backup: the backup at 127.0.0.1:"), std::string::npos)
      << wrong->log();
  EXPECT_NE(wrong->log().find("does not know the pair's secret"), std::string::npos)
      << wrong->log();
  EXPECT_TRUE(pair.primary().wait_for_log("refused a backup: the backup at 127.0.0.1:", kTimeout))
      << pair.diagnostics();

  const size_t logged = pair.primary().log().size();
  const auto none = pair.start_backup("counter", with_secret_file(pair, ""));
  EXPECT_EQ(none->wait_for_exit(kTimeout), std::optional<int>(1)) << none->log();
  EXPECT_NE(none->log().find("requires a secret: give --secret-file"), std::string::npos)
      << none->log();
  EXPECT_TRUE(
      pair.primary().wait_for_log("does not know the pair's secret (it closed the "
                                  "connection instead of answering the challenge)",
                                  logged, kTimeout))
      << pair.diagnostics();
  EXPECT_EQ(pair.primary().wait_for_exit(Duration(0)), std::nullopt) << "the primary gave up";

  pair.pair();
  expect_counts(pair);
}

// A primary that lacks the secret cannot feed a backup that has it.
TEST(Secret, ABackupRefusesAPrimaryThatDoesNotKnowTheSecret) {
  SecretFiles files;
  PairProcesses pair(counter_pair(""));
  const auto backup = pair.start_backup(
      "counter", with_secret_file(pair, files.make("secret", "correct horse battery staple")));
  EXPECT_EQ(backup->wait_for_exit(kTimeout), std::optional<int>(1)) << backup->log();
  EXPECT_NE(backup->log().find("the primary at 127.0.0.1:"), std::string::npos) << backup->log();
  EXPECT_NE(backup->log().find("did not prove it knows the secret"), std::string::npos)
      << backup->log();
  EXPECT_EQ(backup->log().find("replay"), std::string::npos) << backup->log();
}

TEST(Secret, AShortOrMissingSecretFileStopsTheStart) {
  SecretFiles files;
  const auto short_file = run_vmft(
      {"arbiter", "--listen", "127.0.0.1:0", "--data", (fs::temp_directory_path() / "x").string(),
       "--secret-file", files.make("short", "too short")},
      kTimeout);
  EXPECT_EQ(short_file.exit_code, vmft::ft::kStartFailedExitCode);
  EXPECT_NE(short_file.err.find("it needs at least 16"), std::string::npos) << short_file.err;
  const auto missing = run_vmft({"primary", guest_path("counter"), "--name", "p", "--log-listen",
                                 "127.0.0.1:0", "--secret-file", "/nonexistent/secret"},
                                kTimeout);
  EXPECT_EQ(missing.exit_code, vmft::ft::kStartFailedExitCode);
  EXPECT_NE(missing.err.find("cannot read the secret file '/nonexistent/secret'"),
            std::string::npos)
      << missing.err;
}

}  // namespace
}  // namespace vmft::integration
