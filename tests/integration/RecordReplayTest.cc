// `vmft record` then `vmft replay` on real processes: sessions driven by seeded random
// clients replay exactly; damaged logs and the wrong guest are refused.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <sstream>
#include <string>
#include <thread>

#include "NetClients.h"
#include "Subprocess.h"
#include "VmftProcess.h"
#include "vmft/ft/ExitCodes.h"
#include "vmft/logchannel/LogFile.h"

namespace vmft::integration {
namespace {

constexpr Duration kTimeout{20000};
// Sessions per test. Under a sanitizer (VMFT_TEST_TIME_SCALE > 1), whose run is there for
// memory errors and undefined behaviour on the same paths, 5: each session starts two sanitized
// vmft processes, and the 20 made these three tests two minutes of that run's CPU.
constexpr int kSeeds = VMFT_TEST_TIME_SCALE > 1 ? 5 : 20;

class RecordReplay : public ::testing::Test {
 protected:
  RecordReplay() {
    char tmpl[] = "/tmp/vmft-rr-XXXXXX";
    dir_ = mkdtemp(tmpl);
  }
  ~RecordReplay() override { std::filesystem::remove_all(dir_); }

  std::string log_path(int seed) const { return dir_ + "/run-" + std::to_string(seed) + ".log"; }

  static FinishedVmft vmft(const std::vector<std::string>& args) {
    return run_vmft(args, kTimeout);
  }
  FinishedVmft replay(const std::string& guest, const std::string& log) {
    return vmft({"replay", guest_path(guest), "--log", log});
  }

  std::string dir_;
};

// Pauses of 0 to 2 ms between requests, so inputs land at different instructions per seed.
void random_pause(std::mt19937& random) {
  std::this_thread::sleep_for(std::chrono::microseconds(random() % 2000));
}

// A counter session: a few TCP clients and UDP requests interleaved in a seeded order.
void drive_counter(VmftProcess& vmft, std::mt19937& random) {
  const auto tcp = vmft.listening_port("tcp", kTimeout);
  const auto udp = vmft.listening_port("udp", kTimeout);
  ASSERT_TRUE(tcp && udp) << vmft.log();
  ASSERT_TRUE(vmft.wait_for_console("counter: ready", kTimeout)) << vmft.console();
  std::vector<std::unique_ptr<TcpClient>> clients;
  const int n = 1 + static_cast<int>(random() % 4);
  for (int i = 0; i < n; i++) clients.push_back(std::make_unique<TcpClient>(*tcp));
  UdpClient datagrams;
  for (int i = 0; i < 30; i++) {
    const std::string key = "k" + std::to_string(random() % 5);
    const std::string command =
        (random() % 3 == 0) ? "GET " + key + "\r\n" : "INCR " + key + "\r\n";
    if (random() % 4 == 0) {
      datagrams.send_to(*udp, command);
      ASSERT_TRUE(datagrams.receive(kTimeout)) << "no UDP reply";
    } else {
      auto& client = *clients[random() % clients.size()];
      client.send_all(command);
      // A whole reply: a bulk string ("$1\r\n3\r\n") is two lines.
      const std::string first = client.receive_line(kTimeout).data;
      ASSERT_FALSE(first.empty()) << "no TCP reply";
      if (first[0] == '$' && first != "$-1\r\n") {
        ASSERT_FALSE(client.receive_line(kTimeout).data.empty()) << "no bulk string body";
      }
    }
    random_pause(random);
  }
}

TEST_F(RecordReplay, CounterSessionsReplayExactly) {
  for (int seed = 1; seed <= kSeeds; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 random(seed);
    {
      VmftProcess recorder(
          "record", "counter",
          {"--log", log_path(seed), "--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
      drive_counter(recorder, random);
      recorder.terminate();
      ASSERT_EQ(recorder.wait_for_exit(kTimeout), 0) << recorder.log();
    }
    const auto r = replay("counter", log_path(seed));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("replay matched"), std::string::npos) << r.err;
  }
}

TEST_F(RecordReplay, EchoSessionsReplayExactly) {
  for (int seed = 1; seed <= kSeeds; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 random(seed);
    {
      VmftProcess recorder(
          "record", "echo",
          {"--log", log_path(seed), "--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
      const auto tcp = recorder.listening_port("tcp", kTimeout);
      const auto udp = recorder.listening_port("udp", kTimeout);
      ASSERT_TRUE(tcp && udp) << recorder.log();
      ASSERT_TRUE(recorder.wait_for_console("echo: ready", kTimeout));
      TcpClient stream(*tcp);
      UdpClient datagrams;
      for (int i = 0; i < 20; i++) {
        const std::string payload(1 + random() % 3000, static_cast<char>('a' + i % 26));
        if (random() % 2) {
          datagrams.send_to(*udp, payload);
          ASSERT_EQ(datagrams.receive(kTimeout), payload);
        } else {
          ASSERT_EQ(stream.exchange(payload, payload.size(), kTimeout).data, payload);
        }
        random_pause(random);
      }
      recorder.terminate();
      ASSERT_EQ(recorder.wait_for_exit(kTimeout), 0) << recorder.log();
    }
    const auto r = replay("echo", log_path(seed));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.err.find("replay matched"), std::string::npos) << r.err;
  }
}

// The nondet guest reads every clock, entropy, and takes timer interrupts at a rate its
// entropy picks; its replies mix all of that in.
TEST_F(RecordReplay, EveryNondeterministicSourceReplaysExactly) {
  for (int seed = 1; seed <= kSeeds; seed++) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937 random(seed);
    std::string console;
    {
      VmftProcess recorder(
          "record", "nondet",
          {"--log", log_path(seed), "--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
      const auto tcp = recorder.listening_port("tcp", kTimeout);
      const auto udp = recorder.listening_port("udp", kTimeout);
      ASSERT_TRUE(tcp && udp) << recorder.log();
      ASSERT_TRUE(recorder.wait_for_console("nondet: ready", kTimeout));
      UdpClient datagrams;
      for (int i = 0; i < 10; i++) {
        if (random() % 2) {
          datagrams.send_to(*udp, "ping " + std::to_string(i));
          ASSERT_TRUE(datagrams.receive(kTimeout));
        } else {
          TcpClient client(*tcp);
          client.send_all("hello " + std::to_string(i) + "\n");
          ASSERT_FALSE(client.receive_line(kTimeout).data.empty());
        }
        random_pause(random);
      }
      datagrams.send_to(*udp, "quit");
      ASSERT_EQ(recorder.wait_for_exit(kTimeout), 0) << recorder.log();
      console = recorder.console();
    }
    const auto r = replay("nondet", log_path(seed));
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_EQ(r.out, console) << "the replay's console differs";
    EXPECT_NE(r.err.find("interrupts"), std::string::npos) << r.err;
  }
}

// The SDK's sleeps arm and restore the timer around the guest's own ticks: every tick and every
// clock read in between replays at its instruction.
TEST_F(RecordReplay, SleepingGuestReplaysExactly) {
  const auto recorded = vmft({"record", guest_path("sleep"), "--log", log_path(0)});
  ASSERT_EQ(recorded.exit_code, 0) << recorded.err << recorded.out;
  const auto r = replay("sleep", log_path(0));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, recorded.out);
  EXPECT_NE(r.err.find("replay matched"), std::string::npos) << r.err;
}

// Everything a client saw was in the file before it left: a replay of a killed recorder's log
// checks all of it.
TEST_F(RecordReplay, KilledRecordersLogReplaysUpToWhereItEnds) {
  std::mt19937 random(99);
  {
    VmftProcess recorder("record", "counter",
                         {"--log", log_path(0), "--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
    drive_counter(recorder, random);
    recorder.kill();
    ASSERT_TRUE(recorder.wait_for_exit(kTimeout));
  }
  const auto r = replay("counter", log_path(0));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("without an end record"), std::string::npos) << r.err;
  // The ready line and the 30 replies the clients got were all checked.
  std::smatch outputs;
  ASSERT_TRUE(std::regex_search(r.err, outputs, std::regex(R"((\d+) outputs)"))) << r.err;
  EXPECT_GE(std::stoi(outputs[1]), 31) << r.err;
}

TEST_F(RecordReplay, RecordRefusesADigestIntervalOfZero) {
  const auto r =
      vmft({"record", guest_path("count"), "--log", log_path(0), "--digest-interval", "0"});
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_NE(r.err.find("--digest-interval 0"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(log_path(0))) << "a log was written";
}

// The counter runs past 100000 instructions before it is ready: the log has a digest there,
// which the replay reproduces only if it takes the interval from the log.
TEST_F(RecordReplay, ReplayTakesDigestsAtTheRecordedInterval) {
  std::mt19937 random(5);
  {
    VmftProcess recorder("record", "counter",
                         {"--log", log_path(0), "--digest-interval", "100000", "--tcp",
                          "127.0.0.1:0", "--udp", "127.0.0.1:0"});
    drive_counter(recorder, random);
    recorder.terminate();
    ASSERT_EQ(recorder.wait_for_exit(kTimeout), 0) << recorder.log();
  }
  const auto shown = vmft({"log", "show", log_path(0)});
  EXPECT_NE(shown.out.find("\ndigest every 100000 instructions\n"), std::string::npos)
      << shown.out.substr(0, 300);
  const auto r = replay("counter", log_path(0));
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::smatch digests;
  ASSERT_TRUE(std::regex_search(r.err, digests, std::regex(R"((\d+) digests)"))) << r.err;
  EXPECT_GE(std::stoi(digests[1]), 2) << "no digest before the final one: " << r.err;
}

// A short recorded run to damage.
std::string record_count(const std::string& path) {
  Subprocess p({VMFT_BINARY, "record", guest_path("timer"), "--log", path});
  EXPECT_EQ(p.wait_for_exit(kTimeout), 0) << p.stderr_text();
  return path;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}
void write_file(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << bytes;
}

TEST_F(RecordReplay, RefusesALogOfAnotherGuest) {
  const std::string log = record_count(log_path(0));
  const auto r = replay("echo", log);
  EXPECT_EQ(r.exit_code, vmft::ft::kStartFailedExitCode);
  EXPECT_NE(r.err.find("was recorded with guest timer.elf"), std::string::npos) << r.err;
}

// The same records, under a header that names another emulator version: refused before the
// replay starts, not reported as a divergence when another version translates differently.
TEST_F(RecordReplay, RefusesALogFromAnotherEmulatorVersion) {
  const std::string log = record_count(log_path(0));
  const std::string moved = log_path(1);
  {
    logchannel::LogReader reader(log);
    logchannel::LogHeader header = reader.header();
    ASSERT_EQ(header.emulator.rfind("unicorn ", 0), 0u) << header.emulator;
    header.emulator = "unicorn 2.0.1";
    logchannel::LogWriter writer(moved, header);
    while (const auto record = reader.next_record()) writer.append(*record);
    writer.close();
  }
  const auto r = replay("timer", moved);
  EXPECT_EQ(r.exit_code, vmft::ft::kStartFailedExitCode) << r.err;
  EXPECT_NE(r.err.find("was recorded on unicorn 2.0.1; this vmft runs unicorn "), std::string::npos)
      << r.err;
  EXPECT_EQ(replay("timer", log).exit_code, 0);
}

TEST_F(RecordReplay, RefusesATruncatedLogNamingTheOffset) {
  const std::string log = record_count(log_path(0));
  const std::string bytes = read_file(log);
  write_file(log, bytes.substr(0, bytes.size() - 7));
  const auto r = replay("timer", log);
  EXPECT_EQ(r.exit_code, vmft::ft::kStartFailedExitCode) << r.err;
  EXPECT_NE(r.err.find("truncated"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("offset"), std::string::npos) << r.err;
}

TEST_F(RecordReplay, RefusesALogWithAFlippedByte) {
  const std::string log = record_count(log_path(0));
  std::string bytes = read_file(log);
  ASSERT_GT(bytes.size(), 100u) << "the recording is too short to damage";
  bytes[bytes.size() - 100] ^= 0x40;
  write_file(log, bytes);
  const auto r = replay("timer", log);
  EXPECT_EQ(r.exit_code, vmft::ft::kStartFailedExitCode) << r.err;
  EXPECT_NE(r.err.find("checksum"), std::string::npos) << r.err;
}

TEST_F(RecordReplay, RefusesAnUnknownFormatVersion) {
  const std::string log = record_count(log_path(0));
  std::string bytes = read_file(log);
  bytes[8] = 99;  // the version follows the 8-byte magic
  write_file(log, bytes);
  const auto r = replay("timer", log);
  EXPECT_EQ(r.exit_code, vmft::ft::kStartFailedExitCode) << r.err;
  EXPECT_NE(r.err.find("version 99"), std::string::npos) << r.err;
}

TEST_F(RecordReplay, LogShowJsonGivesTheHeaderThenEveryRecordInOrder) {
  const std::string log = record_count(log_path(0));
  const auto text = vmft({"log", "show", "--json", log});
  ASSERT_EQ(text.exit_code, 0) << text.err;
  const auto plain = vmft({"log", "show", log});
  std::istringstream lines(text.out);
  std::string line;
  ASSERT_TRUE(std::getline(lines, line));
  const auto header = nlohmann::json::parse(line).at("header");
  EXPECT_EQ(header.at("guest"), "timer.elf") << line;
  EXPECT_EQ(header.at("nic").at("kind"), "sockets") << line;
  uint64_t seq = 0;
  std::string last_type;
  while (std::getline(lines, line)) {
    const auto record = nlohmann::json::parse(line);
    EXPECT_EQ(record.at("seq").get<uint64_t>(), ++seq) << line;
    last_type = record.at("type").get<std::string>();
    // The same fields `log show` prints for the record.
    const std::string words = "#" + std::to_string(seq) + " @" +
                              std::to_string(record.at("icount").get<uint64_t>()) + " " +
                              last_type + " " + record.at("fields").get<std::string>() + "\n";
    EXPECT_NE(plain.out.find(words), std::string::npos) << words;
  }
  EXPECT_GT(seq, 3u);
  EXPECT_EQ(last_type, "digest");  // the final state, after the end record
}

TEST_F(RecordReplay, UntilStopsAtTheExactInstructionAndShowsRegisters) {
  const std::string log = log_path(0);
  Subprocess recorder({VMFT_BINARY, "record", guest_path("count"), "--log", log});
  ASSERT_EQ(recorder.wait_for_exit(kTimeout), 2001 & 0xff) << recorder.stderr_text();
  // count.S: `li t0, 1000`, then (addi t0, -1; bnez) 1000 times. After 1000 instructions the
  // li and 499 loop rounds and one addi have run: t0 = 500, and the bnez at 0x80000008 is next.
  const auto r = vmft({"replay", guest_path("count"), "--log", log, "--until", "1000"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("stopped before instruction 1000 (pc 0x80000008)"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("t0=0x00000000000001f4"), std::string::npos) << r.out;
}

// Across a run with interrupts and network inputs, --until lands on every count asked for.
TEST_F(RecordReplay, UntilIsExactThroughInterruptsAndInputs) {
  std::mt19937 random(7);
  {
    VmftProcess recorder("record", "nondet", {"--log", log_path(0), "--udp", "127.0.0.1:0"});
    const auto udp = recorder.listening_port("udp", kTimeout);
    ASSERT_TRUE(udp) << recorder.log();
    ASSERT_TRUE(recorder.wait_for_console("nondet: ready", kTimeout));
    UdpClient client;
    for (int i = 0; i < 5; i++) {
      client.send_to(*udp, "ping");
      ASSERT_TRUE(client.receive(kTimeout));
      random_pause(random);
    }
    client.send_to(*udp, "quit");
    ASSERT_EQ(recorder.wait_for_exit(kTimeout), 0) << recorder.log();
  }
  const auto whole = replay("nondet", log_path(0));
  std::smatch interrupts;
  ASSERT_TRUE(std::regex_search(whole.err, interrupts, std::regex(R"((\d+) interrupts)")));
  ASSERT_GT(std::stoi(interrupts[1]), 0) << whole.err;
  std::smatch total;
  ASSERT_TRUE(std::regex_search(whole.err, total, std::regex(R"(matched: (\d+) instructions)")));
  const uint64_t instructions = std::stoull(total[1]);
  for (uint64_t until = 1; until < instructions; until += 1 + random() % (instructions / 25)) {
    const auto r = vmft(
        {"replay", guest_path("nondet"), "--log", log_path(0), "--until", std::to_string(until)});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("stopped before instruction " + std::to_string(until) + " "),
              std::string::npos)
        << r.out;
  }
}

TEST_F(RecordReplay, DumpRamWritesTheGuestsMemory) {
  const std::string log = log_path(0);
  Subprocess recorder({VMFT_BINARY, "record", guest_path("count"), "--log", log, "--mem", "1M"});
  ASSERT_TRUE(recorder.wait_for_exit(kTimeout)) << recorder.stderr_text();
  const std::string ram = dir_ + "/ram.bin";
  const auto r =
      vmft({"replay", guest_path("count"), "--log", log, "--until", "5", "--dump-ram", ram});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  const std::string bytes = read_file(ram);
  ASSERT_EQ(bytes.size(), 1u << 20);
  EXPECT_EQ(bytes.substr(0, 4), std::string("\x93\x02\x80\x3e", 4));  // li t0, 1000
}

TEST_F(RecordReplay, UntilPastTheEndOfTheRunIsAnError) {
  const std::string log = log_path(0);
  Subprocess recorder({VMFT_BINARY, "record", guest_path("count"), "--log", log});
  ASSERT_TRUE(recorder.wait_for_exit(kTimeout));
  const auto r = vmft({"replay", guest_path("count"), "--log", log, "--until", "5000"});
  EXPECT_EQ(r.exit_code, vmft::ft::kStartFailedExitCode);
  EXPECT_NE(r.err.find("ended after 2004 instructions, before --until 5000"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace vmft::integration
