// The frame NIC (--tap) in a network lab of its own (scripts/netlab, as root): the frames test
// guest (tests/guests/frames.c) with the SDK's own stack answers the kernel's ping, UDP and TCP
// from the client namespace, a recording of that replays exactly, a pair serves it, and a TCP
// connection survives the primary's death.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>

#include "FrameNicFixture.h"

namespace vmft::integration {
namespace {

TEST_F(FrameNic, GuestAnswersPingAndUdpFromTheClientNamespace) {
  VmftProcess vmft(lab_->in_lab(), "run", "frames", kFrameNic);
  ASSERT_TRUE(vmft.wait_for_console(kReady, kTimeout)) << vmft.log();
  EXPECT_NE(vmft.log().find("frame NIC on tap tap0: MAC 02:00:c6:12:00:0a, 198.18.0.10/24"),
            std::string::npos)
      << vmft.log();
  const auto ping = lab_->client("ping -c 3 -i 0.2 -W 5 198.18.0.10", kTimeout);
  EXPECT_EQ(ping.exit_code, std::optional<int>(0)) << ping.out << ping.err;
  EXPECT_NE(ping.out.find("3 received"), std::string::npos) << ping.out;
  // The reply starts with the number of frames the guest took in, then the datagram.
  const std::string reply = udp_echo("hello");
  EXPECT_TRUE(reply.ends_with(" hello")) << reply;
  EXPECT_GT(std::stoul(reply), 0u) << reply;
  // TCP: the kernel's client against the guest's stack, 100 KB each way.
  const auto tcp =
      lab_->client("head -c 100000 /dev/zero | tr '\\0' x | nc -N 198.18.0.10 7 | wc -c", kTimeout);
  EXPECT_EQ(tcp.out, "100000\n") << tcp.err << vmft.log();
  udp_echo("quit");
  EXPECT_EQ(vmft.wait_for_exit(kTimeout), std::optional<int>(0)) << vmft.log();
}

TEST_F(FrameNic, ARecordingOfPingsAndDatagramsReplaysExactly) {
  const std::string log =
      std::filesystem::temp_directory_path() / ("vmft-frames-" + std::to_string(getpid()) + ".log");
  std::vector<std::string> args = kFrameNic;
  args.insert(args.end(), {"--log", log});
  std::string console;
  {
    VmftProcess recorder(lab_->in_lab(), "record", "frames", args);
    ASSERT_TRUE(recorder.wait_for_console(kReady, kTimeout)) << recorder.log();
    EXPECT_EQ(lab_->client("ping -c 5 -i 0.05 -W 5 198.18.0.10", kTimeout).exit_code,
              std::optional<int>(0));
    for (int i = 0; i < 3; i++) EXPECT_TRUE(udp_echo("datagram " + std::to_string(i)).size());
    EXPECT_EQ(lab_->client("printf 'over tcp\\n' | nc -N 198.18.0.10 7", kTimeout).out,
              "over tcp\n");
    udp_echo("quit");
    ASSERT_EQ(recorder.wait_for_exit(kTimeout), std::optional<int>(0)) << recorder.log();
    console = recorder.console();
  }
  expect_replays_exactly(log, console);
}

// A primary on tap0 and its backup on tap1 (it reads its device but sends nothing): every
// frame the primary's guest took in reaches the backup's, which reproduces the run.
TEST_F(FrameNic, APairServesFromThePrimaryAndTheBackupReproducesIt) {
  PairProcesses pair(pair_spec());
  pair.pair();
  const auto ping = lab_->client("ping -c 3 -i 0.2 -W 5 198.18.0.10", kTimeout);
  EXPECT_EQ(ping.exit_code, std::optional<int>(0)) << ping.out << pair.diagnostics();
  EXPECT_TRUE(udp_echo("paired").ends_with(" paired")) << pair.diagnostics();
  udp_echo("quit");
  const auto exits = pair.wait_for_exits();
  EXPECT_EQ(exits.primary, std::optional<int>(0)) << pair.diagnostics();
  EXPECT_EQ(exits.backup, std::optional<int>(0)) << pair.diagnostics();
  EXPECT_NE(pair.backup().log().find("reproduced the primary's run to its end"), std::string::npos)
      << pair.diagnostics();
}

// The backup runs the same guest with other frame NIC settings: refused at the handshake.
TEST_F(FrameNic, ABackupWithOtherNicSettingsIsRefused) {
  PairProcesses pair(pair_spec());
  std::vector<std::string> options = pair.backup_options();
  options.insert(options.end(), {"--mtu", "1400"});
  const auto backup = pair.start_backup("frames", options);
  EXPECT_TRUE(backup->wait_for_log("give both the same --tap settings", kTimeout))
      << pair.diagnostics() << backup->log();
}

// kill -9 of the primary: the backup wins the pair at an arbiter (in the lab, where both sides
// reach it), opens its own TAP device and answers ping and UDP with the guest's state carried
// on (the frame count in each reply goes on from where the primary's was).
TEST_F(FrameNic, KillingThePrimaryLeavesTheBackupAnsweringOnItsOwnTap) {
  const auto owner = pair_with_arbiter(pair_spec());
  PairProcesses& pair = *owner;
  const std::string before = udp_echo("before");
  ASSERT_TRUE(before.ends_with(" before")) << before << pair.diagnostics();

  pair.primary().kill();
  ASSERT_TRUE(pair.backup().wait_for_event("went_live", kTimeout)) << pair.diagnostics();
  EXPECT_NE(pair.backup().log().find("frame NIC on tap tap1"), std::string::npos)
      << pair.diagnostics();
  // Until the bridge sees tap1's carrier and forgets tap0's (the kernel passes link changes on
  // up to a second late), frames for the guest go nowhere: ping sends until three come back.
  const auto ping = lab_->client("ping -c 3 -i 0.1 -w 10 198.18.0.10", kTimeout);
  EXPECT_EQ(ping.exit_code, std::optional<int>(0)) << ping.out << pair.diagnostics();
  const std::string after = udp_echo("after");
  ASSERT_TRUE(after.ends_with(" after")) << after << pair.diagnostics();
  EXPECT_GT(std::stoul(after), std::stoul(before));
  udp_echo("quit");
  EXPECT_EQ(pair.backup().wait_for_exit(kTimeout), std::optional<int>(0)) << pair.diagnostics();
}

// Frames lost, duplicated and reordered both ways by the host (--tap-faults): the guest answers
// what reaches it, and the recording still replays exactly, the faults on the way in having
// been decided before the frames became inputs.
TEST_F(FrameNic, UnderSeededLossDuplicationAndReorderingARecordingReplaysExactly) {
  const std::string log = std::filesystem::temp_directory_path() /
                          ("vmft-frames-faults-" + std::to_string(getpid()) + ".log");
  std::vector<std::string> args = kFrameNic;
  args.insert(args.end(),
              {"--log", log, "--tap-faults", "loss=0.05,duplicate=0.05,reorder=0.05,seed=3"});
  std::string console;
  {
    VmftProcess recorder(lab_->in_lab(), "record", "frames", args);
    ASSERT_TRUE(recorder.wait_for_console(kReady, kTimeout)) << recorder.log();
    const auto ping = lab_->client("ping -c 40 -i 0.01 -W 1 198.18.0.10", kTimeout);
    // Some are lost (5% each way), most come back, some twice.
    EXPECT_NE(ping.out.find(" received"), std::string::npos) << ping.out;
    EXPECT_EQ(ping.out.find(" 0 received"), std::string::npos) << ping.out;
    // "quit" until it gets through: a datagram may be lost.
    for (int i = 0; i < 20 && !recorder.wait_for_exit(Duration(0)); i++) udp_echo("quit");
    ASSERT_EQ(recorder.wait_for_exit(kTimeout), std::optional<int>(0)) << recorder.log();
    console = recorder.console();
  }
  expect_replays_exactly(log, console);
}

// The point of the frame NIC: the guest owns its TCP connections, so one survives the loss of
// the primary. A client in the client namespace keeps one connection to the guest's TCP echo
// and sends a line at a time; the primary is killed with kill -9 part way; every line comes
// back, in order, on the same connection, with no reset and no reconnection.
TEST_F(FrameNic, ATcpConnectionSurvivesKillingThePrimary) {
  const auto owner = pair_with_arbiter(pair_spec());
  PairProcesses& pair = *owner;
  const int fd = lab_->connect_from_client("198.18.0.10", 7);
  ASSERT_GE(fd, 0) << std::strerror(errno) << pair.diagnostics();
  timeval receive_timeout{static_cast<time_t>(scaled(kTimeout).count() / 1000), 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &receive_timeout, sizeof receive_timeout);
  constexpr int kLines = 60;
  constexpr int kKillAfter = 20;
  std::chrono::steady_clock::duration longest{};
  for (int i = 0; i < kLines; i++) {
    if (i == kKillAfter) pair.primary().kill();
    const std::string line = "line " + std::to_string(i) + "\n";
    const auto sent = std::chrono::steady_clock::now();
    ASSERT_EQ(::send(fd, line.data(), line.size(), MSG_NOSIGNAL), static_cast<ssize_t>(line.size()))
        << "line " << i << ": " << std::strerror(errno) << pair.diagnostics();
    std::string echoed;
    while (echoed.size() < line.size()) {
      char buf[64];
      const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      ASSERT_GT(n, 0) << "line " << i << ": the connection "
                      << (n == 0 ? "closed" : std::strerror(errno)) << pair.diagnostics();
      echoed.append(buf, static_cast<size_t>(n));
    }
    longest = std::max(longest, std::chrono::steady_clock::now() - sent);
    ASSERT_EQ(echoed, line) << pair.diagnostics();
  }
  ::close(fd);
  EXPECT_TRUE(pair.backup().wait_for_event("went_live", kTimeout)) << pair.diagnostics();
  std::printf("longest round trip, the failover's included: %.1f ms\n",
              std::chrono::duration<double, std::milli>(longest).count());
  udp_echo("quit");
  EXPECT_EQ(pair.backup().wait_for_exit(kTimeout), std::optional<int>(0)) << pair.diagnostics();
}

// ------------------------------------------------------------------ hostile frames

// The Internet checksum of `bytes` (RFC 1071), folded, not yet inverted.
uint32_t sum16(const std::vector<uint8_t>& bytes, size_t from, size_t len, uint32_t sum = 0) {
  for (size_t i = 0; i + 1 < len; i += 2) sum += bytes[from + i] << 8 | bytes[from + i + 1];
  if (len % 2) sum += bytes[from + len - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return sum;
}
void put16(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  b[at] = static_cast<uint8_t>(v >> 8);
  b[at + 1] = static_cast<uint8_t>(v);
}
void put32(std::vector<uint8_t>& b, size_t at, uint32_t v) {
  put16(b, at, v >> 16);
  put16(b, at + 2, v & 0xffff);
}

// An Ethernet frame to the guest (02:00:c6:12:00:0a) carrying a TCP segment to its port 7
// from 198.18.0.`host`:`port`, with correct checksums unless `bad_checksum`.
std::vector<uint8_t> tcp_frame(uint8_t host, uint16_t port, uint32_t seq, uint8_t flags,
                               bool bad_checksum = false) {
  std::vector<uint8_t> f(14 + 20 + 20, 0);
  const uint8_t guest[6] = {0x02, 0x00, 0xc6, 0x12, 0x00, 0x0a};
  std::copy(guest, guest + 6, f.begin());
  const uint8_t source[6] = {0x02, 0x01, 0xc6, 0x12, 0x00, host};  // never the guest's
  std::copy(source, source + 6, f.begin() + 6);
  put16(f, 12, 0x0800);
  f[14] = 0x45;
  put16(f, 16, 40);
  f[22] = 64;
  f[23] = 6;  // TCP
  put32(f, 26, 0xc6120000u | host);
  put32(f, 30, 0xc612000au);
  put16(f, 24, ~sum16(f, 14, 20) & 0xffff);
  put16(f, 34, port);
  put16(f, 36, 7);
  put32(f, 38, seq);
  f[46] = 5 << 4;
  f[47] = flags;
  put16(f, 48, 4096);
  uint32_t pseudo = sum16(f, 26, 8) + 6 + 20;
  put16(f, 50, ~sum16(f, 34, 20, pseudo) & 0xffff);
  if (bad_checksum) f[50] ^= 0x5a;
  return f;
}

// Garbage of every length, damaged IPv4 and TCP headers, a bad checksum, a SYN flood from 150
// addresses beyond the backlog, and every TCP flag combination from strangers, all from a raw
// socket in the client namespace: the guest stays up and still answers ping and TCP. (Frames
// over the MTU cannot get there: the bridge's ports have the same MTU.)
TEST_F(FrameNic, HostileFramesLeaveTheGuestServing) {
  VmftProcess vmft(lab_->in_lab(), "run", "frames", kFrameNic);
  ASSERT_TRUE(vmft.wait_for_console(kReady, kTimeout)) << vmft.log();
  const int raw = lab_->raw_socket_in_client();
  ASSERT_GE(raw, 0) << std::strerror(errno);
  std::mt19937 random(17);
  int sent = 0;
  const auto send_frame = [&](const std::vector<uint8_t>& f) {
    if (::send(raw, f.data(), f.size(), 0) == static_cast<ssize_t>(f.size())) sent++;
  };
  const std::vector<uint8_t> valid = tcp_frame(50, 40000, 1, 0x02);
  for (int i = 0; i < 200; i++) {  // garbage after a valid Ethernet header, of every length
    std::vector<uint8_t> f(valid.begin(), valid.begin() + 14);
    f.resize(14 + random() % 200);
    for (size_t j = 14; j < f.size(); j++) f[j] = static_cast<uint8_t>(random());
    send_frame(f);
  }
  for (int i = 0; i < 200; i++) {  // the valid segment with one byte of its IP or TCP header hit
    std::vector<uint8_t> f = valid;
    f[14 + random() % 40] ^= static_cast<uint8_t>(1 + random() % 255);
    send_frame(f);
  }
  send_frame(tcp_frame(51, 40001, 1, 0x02, /*bad_checksum=*/true));
  for (int i = 0; i < 200; i++) {  // a SYN flood from 150 addresses
    const int host = 100 + i % 150;
    send_frame(tcp_frame(static_cast<uint8_t>(host), static_cast<uint16_t>(1024 + i),
                         static_cast<uint32_t>(random()), 0x02));
  }
  for (int flags = 0; flags < 64; flags++) {  // every flag combination, from strangers
    send_frame(tcp_frame(60, static_cast<uint16_t>(30000 + flags), static_cast<uint32_t>(random()),
                         static_cast<uint8_t>(flags)));
  }
  ::close(raw);
  EXPECT_EQ(sent, 200 + 200 + 1 + 200 + 64);

  const auto ping = lab_->client("ping -c 3 -i 0.1 -w 10 198.18.0.10", kTimeout);
  EXPECT_EQ(ping.exit_code, std::optional<int>(0)) << ping.out << vmft.log();
  EXPECT_EQ(lab_->client("printf 'still here\\n' | nc -N 198.18.0.10 7", kTimeout).out,
            "still here\n")
      << vmft.log();
  EXPECT_EQ(vmft.wait_for_exit(Duration(0)), std::nullopt) << vmft.log();
  udp_echo("quit");
  EXPECT_EQ(vmft.wait_for_exit(kTimeout), std::optional<int>(0)) << vmft.log();
  // The guest took them all in ("frames: N frames in, M out"): they reached its stack.
  const std::string console = vmft.console();
  const size_t at = console.find("frames: ", kReady.size());
  ASSERT_NE(at, std::string::npos) << console;
  EXPECT_GE(std::stoul(console.substr(at + 8)), static_cast<unsigned long>(sent)) << console;
}

}  // namespace
}  // namespace vmft::integration
