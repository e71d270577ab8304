// EtcdArbiter against real etcd on 127.0.0.1: the built-in arbiter's decisions, kept in etcd,
// with races, restarts, failover between the endpoints listed, and endpoints that are not
// there; and `vmft primary` refusing etcd addresses it cannot use.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <barrier>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <thread>
#include <vector>

#include "ArbiterRaces.h"
#include "Base64.h"
#include "EtcdCluster.h"
#include "EtcdGateway.h"
#include "FreePort.h"
#include "SilentListener.h"
#include "VmftProcess.h"
#include "vmft/arbiter/EtcdArbiter.h"
#include "vmft/ft/ExitCodes.h"

namespace vmft::integration {
namespace {

using arbiter::ArbiterState;
using arbiter::ArbiterUnavailable;
using arbiter::EtcdArbiter;
using arbiter::Mode;
using Clock = std::chrono::steady_clock;

// Generous for a loaded test machine: a decision is a read and a replicated, fsynced write.
constexpr std::chrono::milliseconds kClientTimeout{5000};
constexpr Duration kExitTimeout{10000};
// Between two attempts at a decision that was unavailable.
constexpr Duration kRetryPause{100};

// An endpoint where nothing listens.
std::string closed_endpoint() { return "127.0.0.1:" + std::to_string(unused_port(SOCK_STREAM)); }

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A single-member etcd per test, and clients of it.
class EtcdArbiterTest : public ::testing::Test {
 protected:
  std::unique_ptr<EtcdArbiter> client(std::vector<std::string> endpoints = {}) {
    if (endpoints.empty()) endpoints = {etcd_.endpoint(0)};
    return std::make_unique<EtcdArbiter>(std::move(endpoints), kClientTimeout);
  }
  // p registered at epoch 1 by "primary".
  void register_p() { ASSERT_TRUE(client()->register_epoch("p", 0, "primary").ok); }
  // Writes `value` under the pair's key directly, as an operator with etcdctl could.
  void put_raw(const std::string& pair, const std::string& value) {
    arbiter::detail::EtcdGateway gateway({etcd_.endpoint(0)}, kClientTimeout);
    nlohmann::json put = nlohmann::json::object();
    put["key"] = arbiter::detail::base64_encode(EtcdArbiter::key(pair));
    put["value"] = arbiter::detail::base64_encode(value);
    gateway.post("/v3/kv/put", put);
  }
  // The value under the pair's key, read directly.
  std::string get_raw(const std::string& pair) {
    arbiter::detail::EtcdGateway gateway({etcd_.endpoint(0)}, kClientTimeout);
    nlohmann::json range = nlohmann::json::object();
    range["key"] = arbiter::detail::base64_encode(EtcdArbiter::key(pair));
    const auto reply = gateway.post("/v3/kv/range", range);
    return arbiter::detail::base64_decode(reply.at("kvs").at(0).at("value").get<std::string>())
        .value_or("(not base64)");
  }

  EtcdCluster etcd_;
};

// ------------------------------------------------------------------ the decisions

TEST_F(EtcdArbiterTest, ReadsANeverRegisteredPairAsEpochZeroNone) {
  EXPECT_EQ(client()->read("p"), ArbiterState{});
}

TEST_F(EtcdArbiterTest, RegisterFollowsTheBuiltInRules) {
  const auto c = client();
  const auto first = c->register_epoch("p", 0, "primary");
  EXPECT_TRUE(first.ok);
  EXPECT_EQ(first.state, (ArbiterState{1, Mode::kPaired, "primary"}));
  const auto ahead = c->register_epoch("p", 5, "primary");
  EXPECT_FALSE(ahead.ok);
  EXPECT_EQ(ahead.state, (ArbiterState{1, Mode::kPaired, "primary"}));
  const auto intruder = c->register_epoch("p", 1, "intruder");
  EXPECT_FALSE(intruder.ok);
  EXPECT_EQ(intruder.state, (ArbiterState{1, Mode::kPaired, "primary"}));
  const auto next = c->register_epoch("p", 1, "primary");
  EXPECT_TRUE(next.ok);
  EXPECT_EQ(next.state, (ArbiterState{2, Mode::kPaired, "primary"}));
  const auto stale = c->register_epoch("p", 0, "primary");
  EXPECT_FALSE(stale.ok);
  EXPECT_EQ(stale.state, (ArbiterState{2, Mode::kPaired, "primary"}));
  EXPECT_EQ(c->read("p"), (ArbiterState{2, Mode::kPaired, "primary"}));
}

// As with ArbiterClient: a request that timed out at one member may have taken effect before
// the next member got it again, so a registration already done counts as done, not twice.
TEST_F(EtcdArbiterTest, ARepeatedRegistrationCountsOnce) {
  const auto c = client();
  ASSERT_TRUE(c->register_epoch("p", 0, "primary").ok);
  const auto again = c->register_epoch("p", 0, "primary");
  EXPECT_TRUE(again.ok);
  EXPECT_EQ(again.state, (ArbiterState{1, Mode::kPaired, "primary"}));
  EXPECT_EQ(c->read("p"), (ArbiterState{1, Mode::kPaired, "primary"}));
}

TEST_F(EtcdArbiterTest, FirstTestAndSetWinsAndTheSecondLearnsTheWinner) {
  register_p();
  const auto c = client();
  const auto backup = c->test_and_set("p", 1, "backup");
  EXPECT_TRUE(backup.won);
  EXPECT_EQ(backup.state, (ArbiterState{1, Mode::kAlone, "backup"}));
  const auto primary = c->test_and_set("p", 1, "primary");
  EXPECT_FALSE(primary.won);
  EXPECT_EQ(primary.state, (ArbiterState{1, Mode::kAlone, "backup"}));
  EXPECT_TRUE(c->test_and_set("p", 1, "backup").won) << "the winner's retry wins again";
  EXPECT_EQ(c->read("p"), (ArbiterState{1, Mode::kAlone, "backup"}));
}

TEST_F(EtcdArbiterTest, OnlyTheWinnerRegistersTheNextEpoch) {
  register_p();
  const auto c = client();
  ASSERT_TRUE(c->test_and_set("p", 1, "backup").won);
  const auto loser = c->register_epoch("p", 1, "primary");
  EXPECT_FALSE(loser.ok);
  EXPECT_EQ(loser.state, (ArbiterState{1, Mode::kAlone, "backup"}));
  const auto winner = c->register_epoch("p", 1, "backup");
  EXPECT_TRUE(winner.ok);
  EXPECT_EQ(winner.state, (ArbiterState{2, Mode::kPaired, "backup"}));
}

TEST_F(EtcdArbiterTest, TestAndSetForAStaleEpochLosesWithTheCurrentState) {
  register_p();
  const auto c = client();
  ASSERT_TRUE(c->register_epoch("p", 1, "primary").ok);
  const auto paired = c->test_and_set("p", 1, "primary");
  EXPECT_FALSE(paired.won);
  EXPECT_EQ(paired.state, (ArbiterState{2, Mode::kPaired, "primary"}));
  ASSERT_TRUE(c->test_and_set("p", 2, "backup").won);
  const auto alone = c->test_and_set("p", 1, "backup");
  EXPECT_FALSE(alone.won) << "a win at epoch 2 is not a win at epoch 1";
  EXPECT_EQ(alone.state, (ArbiterState{2, Mode::kAlone, "backup"}));
}

TEST_F(EtcdArbiterTest, TestAndSetForAnUnknownEpochIsAnError) {
  register_p();
  try {
    client()->test_and_set("p", 2, "backup");
    FAIL() << "no error";
  } catch (const ArbiterUnavailable& e) {
    EXPECT_STREQ(e.what(), "unknown epoch 2 for pair 'p' (epoch 1, paired, held by primary)");
  }
  EXPECT_THROW(client()->test_and_set("never", 1, "backup"), ArbiterUnavailable);
  EXPECT_EQ(client()->read("p"), (ArbiterState{1, Mode::kPaired, "primary"}));
}

TEST_F(EtcdArbiterTest, ConcurrentTestAndSetHasExactlyOneWinnerPerEpoch) {
  ASSERT_TRUE(client()->register_epoch("race", 0, "node-0").ok);
  std::vector<std::unique_ptr<arbiter::Arbiter>> clients;
  for (int i = 0; i < 8; ++i) clients.push_back(client());
  expect_one_test_and_set_winner_per_epoch(clients, *client(), 10);
}

TEST_F(EtcdArbiterTest, ConcurrentFirstRegistrationsHaveExactlyOneWinner) {
  constexpr int kClients = 8;
  std::vector<std::unique_ptr<EtcdArbiter>> clients;
  for (int i = 0; i < kClients; ++i) clients.push_back(client());
  std::barrier start_line(kClients);
  std::vector<arbiter::RegisterResult> results(kClients);
  std::vector<std::thread> threads;
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      start_line.arrive_and_wait();
      results[i] = clients[i]->register_epoch("fresh", 0, "node-" + std::to_string(i));
    });
  }
  for (auto& t : threads) t.join();
  int winners = 0;
  for (const auto& r : results) winners += r.ok ? 1 : 0;
  EXPECT_EQ(winners, 1);
  const ArbiterState state = client()->read("fresh");
  EXPECT_EQ(state.epoch, 1u);
  for (int i = 0; i < kClients; ++i) {
    EXPECT_EQ(results[i].state, state) << "client " << i;
    EXPECT_EQ(results[i].ok, state.holder == "node-" + std::to_string(i)) << "client " << i;
  }
}

TEST_F(EtcdArbiterTest, PairsAreIndependent) {
  register_p();
  const auto c = client();
  ASSERT_TRUE(c->test_and_set("p", 1, "backup").won);
  EXPECT_EQ(c->read("q"), ArbiterState{});
  ASSERT_TRUE(c->register_epoch("q", 0, "other").ok);
  EXPECT_EQ(c->read("p"), (ArbiterState{1, Mode::kAlone, "backup"}));
}

TEST_F(EtcdArbiterTest, DecisionsSurviveKill9AndRestartOfEtcd) {
  const auto c = client();
  ASSERT_TRUE(c->register_epoch("p", 0, "primary").ok);
  ASSERT_TRUE(c->test_and_set("p", 1, "backup").won);
  ASSERT_NO_THROW(etcd_.kill(0));
  EXPECT_THROW(c->read("p"), ArbiterUnavailable);
  ASSERT_NO_THROW(etcd_.restart(0));
  EXPECT_EQ(c->read("p"), (ArbiterState{1, Mode::kAlone, "backup"}));
  EXPECT_FALSE(c->test_and_set("p", 1, "primary").won);
}

// ------------------------------------------------------------------ what etcd holds

TEST_F(EtcdArbiterTest, KeepsTheStateFileTextUnderOneKeyPerPair) {
  register_p();
  EXPECT_EQ(EtcdArbiter::key("p"), "vmft/arbiter/p");
  EXPECT_EQ(get_raw("p"), "vmft-arbiter-state 1\n1 paired primary\n");
}

TEST_F(EtcdArbiterTest, AValueThatIsNoStateIsAnErrorNotAFreshPair) {
  put_raw("p", "not a state");
  try {
    client()->register_epoch("p", 0, "primary");
    FAIL() << "registered over a value it cannot read";
  } catch (const ArbiterUnavailable& e) {
    EXPECT_TRUE(contains(e.what(), "etcd key vmft/arbiter/p does not hold a valid arbiter state"))
        << e.what();
  }
  EXPECT_THROW(client()->read("p"), ArbiterUnavailable);
  EXPECT_EQ(get_raw("p"), "not a state") << "left for an operator to inspect";
}

// ------------------------------------------------------------------ endpoints

TEST_F(EtcdArbiterTest, FailsOverToTheSecondEndpointWhenTheFirstIsNotThere) {
  const auto c = client({closed_endpoint(), etcd_.endpoint(0)});
  EXPECT_TRUE(c->register_epoch("p", 0, "primary").ok);
  EXPECT_TRUE(c->test_and_set("p", 1, "backup").won);
}

TEST_F(EtcdArbiterTest, FailsOverToTheSecondEndpointWhenTheFirstHangs) {
  SilentListener hung;
  constexpr std::chrono::milliseconds kTimeout{1000};
  EtcdArbiter c({hung.endpoint(), etcd_.endpoint(0)}, kTimeout);
  EXPECT_TRUE(c.register_epoch("p", 0, "primary").ok);
  // The endpoint that answered is asked first from now on: were the hung one asked first
  // again, the read and the txn of this decision would wait out its timeout twice.
  const auto again = Clock::now();
  EXPECT_TRUE(c.test_and_set("p", 1, "backup").won);
  EXPECT_LT(Clock::now() - again, 2 * kTimeout);
}

// No etcd needed: nothing listens, or nothing answers.
TEST(EtcdArbiterUnreachable, NoEndpointAnsweringIsArbiterUnavailableNamingEach) {
  const std::string a = closed_endpoint();
  const std::string b = closed_endpoint();
  EtcdArbiter c({a, b}, std::chrono::milliseconds(1000));
  try {
    c.test_and_set("p", 1, "backup");
    FAIL() << "no error";
  } catch (const ArbiterUnavailable& e) {
    const std::string what = e.what();
    EXPECT_TRUE(contains(what, "no etcd endpoint gave an answer")) << what;
    EXPECT_TRUE(contains(what, a)) << what;
    EXPECT_TRUE(contains(what, b)) << what;
  }
}

TEST(EtcdArbiterUnreachable, GivesUpOnSilentEndpointsAtItsTimeout) {
  SilentListener first;
  SilentListener second;
  constexpr std::chrono::milliseconds kTimeout{300};
  EtcdArbiter c({first.endpoint(), second.endpoint()}, kTimeout);
  const auto started = Clock::now();
  EXPECT_THROW(c.read("p"), ArbiterUnavailable);
  const auto took = Clock::now() - started;
  EXPECT_GE(took, 2 * kTimeout) << "each endpoint gets its full timeout";
  EXPECT_LT(took, 2 * kTimeout + std::chrono::seconds(2));
}

// ------------------------------------------------------------------ a three-member cluster

TEST(EtcdArbiterCluster, DecidesWithOneMemberKilledWhicheverItWas) {
  EtcdCluster etcd(3);
  // The leader, if there is one, is the member a client lists first and the one killed: the
  // client must both move on to another member and wait out an election.
  const size_t victim = etcd.leader().value_or(0);
  EtcdArbiter c(std::vector<std::string>{etcd.endpoint(victim), etcd.endpoint((victim + 1) % 3),
                                         etcd.endpoint((victim + 2) % 3)},
                kClientTimeout);
  ASSERT_TRUE(c.register_epoch("p", 0, "primary").ok);
  ASSERT_NO_THROW(etcd.kill(victim));
  // Until the two left elect a leader, a decision may be unavailable; then it goes through.
  const auto deadline = Clock::now() + std::chrono::seconds(20);
  std::optional<arbiter::TasResult> result;
  std::string last_error;
  while (!result && Clock::now() < deadline) {
    try {
      result = c.test_and_set("p", 1, "backup");
    } catch (const ArbiterUnavailable& e) {
      last_error = e.what();
      std::this_thread::sleep_for(kRetryPause);  // as the failover code pauses between asks
    }
  }
  ASSERT_TRUE(result) << last_error << "\n" << etcd.log();
  EXPECT_TRUE(result->won);
  EXPECT_EQ(etcd.read("p"), (ArbiterState{1, Mode::kAlone, "backup"}));
  EXPECT_FALSE(c.test_and_set("p", 1, "primary").won);
}

// ------------------------------------------------------------------ the command line

FinishedVmft run_primary_with_arbiter(const std::string& address) {
  return run_vmft({"primary", guest_path("counter"), "--log-listen", "127.0.0.1:0", "--name", "p",
                   "--arbiter", address},
                  kExitTimeout);
}

TEST(EtcdArbiterCommand, RefusesAnEtcdAddressWithoutEndpoints) {
  const auto r = run_primary_with_arbiter("etcd://");
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_TRUE(contains(r.err, "arbiter address 'etcd://' lists no etcd endpoint")) << r.err;
}

TEST(EtcdArbiterCommand, RefusesAnEtcdEndpointWithoutAPort) {
  const auto r = run_primary_with_arbiter("etcd://127.0.0.1:2379,10.0.0.2");
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_TRUE(contains(r.err, "etcd endpoint '10.0.0.2' must be HOST:PORT")) << r.err;
}

TEST(EtcdArbiterCommand, RefusesAnUnknownScheme) {
  const auto r = run_primary_with_arbiter("http://127.0.0.1:2379");
  EXPECT_EQ(r.exit_code, vmft::ft::kUsageExitCode);
  EXPECT_TRUE(contains(r.err, "unknown scheme 'http://'")) << r.err;
}

TEST(EtcdArbiterCommand, HelpNamesBothKindsOfArbiter) {
  const auto r = run_vmft({"backup", "--help"}, kExitTimeout);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_TRUE(contains(r.out, "etcd://HOST:PORT[,HOST:PORT...]")) << r.out;
}

}  // namespace
}  // namespace vmft::integration
