#pragma once
// The frame NIC's tests' fixture: a network lab of their own (scripts/netlab, as root), pairs in
// it, and the replay of a recording made in it.

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "NetLab.h"
#include "PairProcesses.h"
#include "VmftProcess.h"

namespace vmft::integration {

inline constexpr Duration kTimeout{10000};
inline const std::string kReady = "frames: ready\n";
inline const std::vector<std::string> kFrameNic = {"--tap", "tap0", "--guest-ip", "198.18.0.10/24"};

class FrameNic : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!NetLab::available()) GTEST_SKIP() << "the network lab needs root";
    lab_ = std::make_unique<NetLab>();
  }

  // One datagram to the guest's UDP port (the echo port unless given) from the client
  // namespace, and its reply.
  std::string udp_echo(const std::string& text, int port = 7) const {
    // nc waits a second after the reply for more; the reply itself comes at once.
    return lab_
        ->client(
            "printf %s " + shell_quote(text) + " | nc -u -w 1 198.18.0.10 " + std::to_string(port),
            kTimeout)
        .out;
  }

  // A guest (the frames test guest unless given) as a pair in the lab: the primary on tap0,
  // the backup on tap1.
  PairSpec pair_spec(const std::string& guest = "frames",
                     const std::string& ready_line = kReady) const {
    PairSpec spec;
    spec.guest = guest;
    spec.udp = spec.tcp = false;
    spec.wrapper = lab_->in_lab();
    spec.options = {"--guest-ip", "198.18.0.10/24"};
    spec.primary_options = {"--tap", "tap0"};
    spec.backup_side_options = {"--tap", "tap1"};
    spec.ready_line = ready_line;
    return spec;
  }

  // An arbiter in the lab (where both sides reach it), and a pair registered at it.
  std::unique_ptr<PairProcesses> pair_with_arbiter(PairSpec spec) {
    spec.options.insert(spec.options.end(), {"--arbiter", start_arbiter()});
    auto pair = std::make_unique<PairProcesses>(spec);
    pair->pair();
    EXPECT_TRUE(pair->primary().wait_for_event("registered", {{"epoch", 1}}, kTimeout))
        << pair->diagnostics();
    return pair;
  }

  // An arbiter in the lab, where every side reaches it; returns its address.
  std::string start_arbiter() {
    arbiter_data_ = std::filesystem::temp_directory_path() /
                    ("vmft-frames-arbiter-" + std::to_string(getpid()));
    std::filesystem::create_directories(arbiter_data_);
    arbiter_ = std::make_unique<VmftProcess>(
        lab_->in_lab(),
        std::vector<std::string>{"arbiter", "--listen", "127.0.0.1:7300", "--data", arbiter_data_});
    EXPECT_TRUE(arbiter_->wait_for_log("listening", kTimeout)) << arbiter_->log();
    return "127.0.0.1:7300";
  }

  void TearDown() override {
    arbiter_.reset();
    if (!arbiter_data_.empty()) std::filesystem::remove_all(arbiter_data_);
  }

  // Replays the log outside the lab (it holds every frame and the NIC's settings), expects
  // the recording's console, and removes the log.
  static void expect_replays_exactly(const std::string& log, const std::string& console,
                                     const std::string& guest = "frames") {
    const auto replay = run_vmft({"replay", guest_path(guest), "--log", log}, kTimeout);
    std::filesystem::remove(log);
    EXPECT_EQ(replay.exit_code, 0) << replay.err;
    EXPECT_EQ(replay.out, console);
    EXPECT_NE(replay.err.find("replay matched"), std::string::npos) << replay.err;
  }

  std::unique_ptr<NetLab> lab_;
  std::unique_ptr<VmftProcess> arbiter_;
  std::string arbiter_data_;
};

}  // namespace vmft::integration
