// The kvstore example (examples/kvstore): ordinary C on picolibc, its keys and values in
// malloc'd entries, served by vmft. Real clients (nc), a pair the backup reproduces exactly,
// and a failover that keeps every key a client saw acknowledged.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "FreePort.h"
#include "NetClients.h"
#include "PairProcesses.h"
#include "ShellCommand.h"
#include "TestArbiter.h"
#include "VmftProcess.h"

namespace vmft::integration {
namespace {

constexpr Duration kTimeout{10000};
const std::string kReady = "kvstore: ready\n";

std::string request(TcpClient& client, const std::string& line) {
  client.send_all(line + "\r\n");
  return client.receive_line(kTimeout).data;
}

TEST(KvStore, AnswersNcOnTcpAndUdpAndLogsEachChange) {
  VmftProcess vmft("kvstore", {"--tcp", "127.0.0.1:0", "--udp", "127.0.0.1:0"});
  const auto tcp = vmft.listening_port("tcp", kTimeout);
  const auto udp = vmft.listening_port("udp", kTimeout);
  ASSERT_TRUE(tcp && udp) << vmft.log();
  ASSERT_TRUE(vmft.wait_for_console(kReady, kTimeout)) << vmft.log();
  // -N: nc half-closes at the end of its input; kvstore answers every line, then closes.
  const auto r = run_shell(
      "printf 'SET city Lisbon\\r\\nGET city\\nset n 1\\nCOUNT\\nDEL city\\n"
      "GET city\\nPUT x\\n' | nc -N 127.0.0.1 " +
          std::to_string(*tcp),
      kTimeout);
  ASSERT_EQ(r.exit_code, std::optional<int>(0)) << r.err;
  EXPECT_EQ(r.out,
            "OK\r\nVALUE Lisbon\r\nOK\r\nCOUNT 2\r\nDELETED\r\nNOT_FOUND\r\n"
            "ERROR unknown command\r\n");
  UdpClient datagrams;
  datagrams.send_to(*udp, "GET n");
  EXPECT_EQ(datagrams.receive(kTimeout), "VALUE 1\r\n");
  datagrams.send_to(*udp, "SET n 2\n");
  EXPECT_EQ(datagrams.receive(kTimeout), "OK\r\n");
  EXPECT_TRUE(vmft.wait_for_console("kvstore: set n (1 bytes), 1 keys\n", kTimeout));
  EXPECT_EQ(vmft.console(), kReady +
                                "kvstore: set city (6 bytes), 1 keys\n"
                                "kvstore: set n (1 bytes), 2 keys\n"
                                "kvstore: deleted city, 1 keys\n"
                                "kvstore: set n (1 bytes), 1 keys\n");
}

TEST(KvStore, ALineTooLongIsRefusedAndItsConnectionClosed) {
  VmftProcess vmft("kvstore", {"--tcp", "127.0.0.1:0"});
  const auto tcp = vmft.listening_port("tcp", kTimeout);
  ASSERT_TRUE(tcp && vmft.wait_for_console(kReady, kTimeout)) << vmft.log();
  TcpClient greedy(*tcp);
  greedy.send_all("SET k " + std::string(20000, 'v'));
  EXPECT_EQ(greedy.receive_line(kTimeout).data, "ERROR line too long\r\n");
  EXPECT_TRUE(greedy.receive_until_closed(kTimeout).closed);
  TcpClient next(*tcp);
  EXPECT_EQ(request(next, "COUNT"), "COUNT 0\r\n");
}

// Each client works on keys of its own, so a std::map per client models the store exactly.
// Values grow and shrink (realloc'd line buffers, malloc'd entries freed and made again).
void work_on_own_keys(uint16_t port, int id, int requests,
                      std::map<std::string, std::string>& model) {
  TcpClient client(port);
  std::mt19937 random(id);
  for (int i = 0; i < requests; i++) {
    const std::string key = "c" + std::to_string(id) + "-" + std::to_string(random() % 40);
    switch (random() % 4) {
      case 0: {
        const auto it = model.find(key);
        EXPECT_EQ(request(client, "GET " + key),
                  it == model.end() ? "NOT_FOUND\r\n" : "VALUE " + it->second + "\r\n");
        break;
      }
      case 1:
        EXPECT_EQ(request(client, "DEL " + key),
                  model.erase(key) ? "DELETED\r\n" : "NOT_FOUND\r\n");
        break;
      default: {
        const std::string value(1 + random() % 3000, static_cast<char>('a' + random() % 26));
        EXPECT_EQ(request(client, "SET " + key + " " + value), "OK\r\n");
        model[key] = value;
      }
    }
  }
}

TEST(KvStore, RunsAsAPairThatTheBackupReproducesExactly) {
  PairSpec spec;
  spec.guest = "kvstore";
  spec.ready_line = kReady;
  PairProcesses pair(spec);
  pair.pair();
  constexpr int kClients = 4;
  std::vector<std::map<std::string, std::string>> models(kClients);
  std::vector<std::thread> clients;
  for (int id = 0; id < kClients; id++) {
    clients.emplace_back([&, id] { work_on_own_keys(pair.tcp_port(), id, 300, models[id]); });
  }
  for (auto& t : clients) t.join();
  size_t keys = 0;
  for (const auto& m : models) keys += m.size();
  TcpClient client(pair.tcp_port());
  EXPECT_EQ(request(client, "COUNT"), "COUNT " + std::to_string(keys) + "\r\n");

  const auto exits = pair.stop();
  EXPECT_EQ(exits.primary, std::optional<int>(0)) << pair.diagnostics();
  EXPECT_EQ(exits.backup, std::optional<int>(0)) << pair.diagnostics();
  EXPECT_NE(pair.backup().log().find("reproduced the primary's run to its end"), std::string::npos)
      << pair.diagnostics();
}

// SETs from several clients while the primary is killed: the backup goes live on the same
// address with every key whose OK a client read, holding the value that OK acknowledged.
TEST(KvStore, BackupTakesOverWithEveryAcknowledgedKey) {
  const auto arbiter = TestArbiter::start(ArbiterKind::kBuiltIn);
  const uint16_t port = unused_port(SOCK_STREAM);
  PairSpec spec;
  spec.guest = "kvstore";
  spec.tcp = spec.udp = false;
  spec.options = {"--tcp", "127.0.0.1:" + std::to_string(port), "--arbiter", arbiter->address()};
  spec.ready_line = kReady;
  PairProcesses pair(spec);
  pair.pair();
  ASSERT_TRUE(pair.primary().wait_for_event("registered", {{"epoch", 1}}, kTimeout))
      << pair.diagnostics();

  // Each client SETs keys of its own, a new one each time, until its connection fails, and
  // keeps the ones acknowledged. (The one in flight at the kill may be in the store or not.)
  constexpr int kClients = 4;
  std::vector<std::map<std::string, std::string>> acknowledged(kClients);
  std::atomic<int> total{0};
  std::vector<std::thread> clients;
  for (int id = 0; id < kClients; id++) {
    clients.emplace_back([&, id] {
      std::unique_ptr<TcpClient> connected;
      try {
        connected = std::make_unique<TcpClient>(port);
      } catch (const std::runtime_error& e) {
        ADD_FAILURE() << e.what();
        return;
      }
      TcpClient& client = *connected;
      for (int i = 0;; i++) {
        const std::string key = "c" + std::to_string(id) + "-" + std::to_string(i);
        const std::string value = std::to_string(i) + std::string(i % 100, 'x');
        try {
          client.send_all("SET " + key + " " + value + "\r\n");
        } catch (const std::runtime_error&) {
          return;
        }
        if (client.receive_line(kTimeout).data != "OK\r\n") return;
        acknowledged[id][key] = value;
        total++;
      }
    });
  }
  const auto deadline = std::chrono::steady_clock::now() + kTimeout;
  while (total < 2000 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  ASSERT_GE(total, 2000) << pair.diagnostics();
  pair.primary().kill();
  for (auto& t : clients) t.join();
  ASSERT_TRUE(pair.backup().wait_for_event("went_live", kTimeout)) << pair.diagnostics();

  TcpClient after(port);
  for (const auto& keys : acknowledged) {
    for (const auto& [key, value] : keys) {
      ASSERT_EQ(request(after, "GET " + key), "VALUE " + value + "\r\n") << pair.diagnostics();
    }
  }
}

}  // namespace
}  // namespace vmft::integration
