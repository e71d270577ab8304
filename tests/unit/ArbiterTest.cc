// The arbiter's decisions and their durability (ArbiterStore), and its request lines
// (answer_request), without sockets.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "Protocol.h"
#include "vmft/arbiter/ArbiterServer.h"
#include "vmft/arbiter/ArbiterStore.h"

namespace vmft::arbiter {
namespace {

namespace fs = std::filesystem;

const ArbiterState kNever{};

class ArbiterStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = (fs::temp_directory_path() / "vmft-arbiter-XXXXXX").string();
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
    store_.emplace(dir_);
  }
  void TearDown() override {
    store_.reset();
    fs::permissions(dir_, fs::perms::owner_all);
    fs::remove_all(dir_);
  }

  ArbiterStore& store() { return *store_; }
  // A new store on the same directory, as after a restart of the arbiter.
  void restart() {
    store_.reset();
    store_.emplace(dir_);
  }
  // p registered at epoch 1 by "primary".
  void register_p() { ASSERT_TRUE(store().register_epoch("p", 0, "primary").ok); }

  fs::path dir_;
  std::optional<ArbiterStore> store_;
};

TEST_F(ArbiterStoreTest, ReadsANeverRegisteredPairAsEpochZeroNone) {
  EXPECT_EQ(store().read("p"), kNever);
}

TEST_F(ArbiterStoreTest, FirstRegisterStartsEpochOnePaired) {
  const RegisterResult r = store().register_epoch("p", 0, "primary");
  EXPECT_TRUE(r.ok);
  const ArbiterState want{1, Mode::kPaired, "primary"};
  EXPECT_EQ(r.state, want);
  EXPECT_EQ(store().read("p"), want);
}

TEST_F(ArbiterStoreTest, RegisterAtTheWrongEpochIsRefusedWithTheState) {
  register_p();
  const RegisterResult stale = store().register_epoch("p", 0, "primary");
  EXPECT_FALSE(stale.ok);
  EXPECT_EQ(stale.state, (ArbiterState{1, Mode::kPaired, "primary"}));
  const RegisterResult ahead = store().register_epoch("p", 5, "primary");
  EXPECT_FALSE(ahead.ok);
  EXPECT_EQ(ahead.state, (ArbiterState{1, Mode::kPaired, "primary"}));
  const RegisterResult never = store().register_epoch("q", 3, "primary");
  EXPECT_FALSE(never.ok);
  EXPECT_EQ(never.state, kNever);
}

TEST_F(ArbiterStoreTest, HolderRegistersTheNextEpochWhilePaired) {
  register_p();
  const RegisterResult r = store().register_epoch("p", 1, "primary");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.state, (ArbiterState{2, Mode::kPaired, "primary"}));
}

TEST_F(ArbiterStoreTest, AnotherIdCannotRegisterAPairedEpoch) {
  register_p();
  const RegisterResult r = store().register_epoch("p", 1, "intruder");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.state, (ArbiterState{1, Mode::kPaired, "primary"}));
}

TEST_F(ArbiterStoreTest, WinnerRegistersTheNextEpochWhenItsNewBackupIsInSync) {
  register_p();
  ASSERT_TRUE(store().test_and_set("p", 1, "backup").won);
  const RegisterResult r = store().register_epoch("p", 1, "backup");
  EXPECT_TRUE(r.ok);
  EXPECT_EQ(r.state, (ArbiterState{2, Mode::kPaired, "backup"}));
}

TEST_F(ArbiterStoreTest, LoserCannotRegisterAfterTheWinnerWentAlone) {
  register_p();
  ASSERT_TRUE(store().test_and_set("p", 1, "backup").won);
  const RegisterResult r = store().register_epoch("p", 1, "primary");
  EXPECT_FALSE(r.ok);
  EXPECT_EQ(r.state, (ArbiterState{1, Mode::kAlone, "backup"}));
}

TEST_F(ArbiterStoreTest, FirstTestAndSetOfAPairedEpochWinsAndGoesAlone) {
  register_p();
  const TasResult r = store().test_and_set("p", 1, "backup");
  EXPECT_TRUE(r.won);
  const ArbiterState want{1, Mode::kAlone, "backup"};
  EXPECT_EQ(r.state, want);
  EXPECT_EQ(store().read("p"), want);
}

TEST_F(ArbiterStoreTest, SecondTestAndSetLosesAndLearnsTheWinner) {
  register_p();
  ASSERT_TRUE(store().test_and_set("p", 1, "backup").won);
  const TasResult r = store().test_and_set("p", 1, "primary");
  EXPECT_FALSE(r.won);
  EXPECT_EQ(r.state, (ArbiterState{1, Mode::kAlone, "backup"}));
}

TEST_F(ArbiterStoreTest, WinnersRetryWinsAgain) {
  register_p();
  ASSERT_TRUE(store().test_and_set("p", 1, "backup").won);
  const TasResult r = store().test_and_set("p", 1, "backup");
  EXPECT_TRUE(r.won);
  EXPECT_EQ(r.state, (ArbiterState{1, Mode::kAlone, "backup"}));
}

TEST_F(ArbiterStoreTest, TestAndSetForAStaleEpochLosesWithTheCurrentState) {
  register_p();
  ASSERT_TRUE(store().register_epoch("p", 1, "primary").ok);
  const TasResult paired = store().test_and_set("p", 1, "primary");
  EXPECT_FALSE(paired.won);
  EXPECT_EQ(paired.state, (ArbiterState{2, Mode::kPaired, "primary"}));
  ASSERT_TRUE(store().test_and_set("p", 2, "backup").won);
  const TasResult alone = store().test_and_set("p", 1, "backup");
  EXPECT_FALSE(alone.won) << "a win at epoch 2 is not a win at epoch 1";
  EXPECT_EQ(alone.state, (ArbiterState{2, Mode::kAlone, "backup"}));
}

TEST_F(ArbiterStoreTest, TestAndSetForAFutureEpochIsAnError) {
  register_p();
  try {
    store().test_and_set("p", 2, "backup");
    FAIL() << "no error";
  } catch (const ArbiterUnavailable& e) {
    EXPECT_STREQ(e.what(), "unknown epoch 2 for pair 'p' (epoch 1, paired, held by primary)");
  }
  EXPECT_EQ(store().read("p"), (ArbiterState{1, Mode::kPaired, "primary"}));
}

TEST_F(ArbiterStoreTest, TestAndSetOnANeverRegisteredPairIsAnError) {
  EXPECT_THROW(store().test_and_set("p", 0, "backup"), ArbiterUnavailable);
  EXPECT_THROW(store().test_and_set("p", 1, "backup"), ArbiterUnavailable);
  EXPECT_EQ(store().read("p"), kNever);
}

TEST_F(ArbiterStoreTest, PairsAreIndependent) {
  register_p();
  ASSERT_TRUE(store().register_epoch("q", 0, "other").ok);
  ASSERT_TRUE(store().test_and_set("q", 1, "other-backup").won);
  EXPECT_EQ(store().read("p"), (ArbiterState{1, Mode::kPaired, "primary"}));
  EXPECT_EQ(store().read("q"), (ArbiterState{1, Mode::kAlone, "other-backup"}));
}

TEST_F(ArbiterStoreTest, DecisionsSurviveANewStoreOnTheSameDirectory) {
  register_p();
  ASSERT_TRUE(store().register_epoch("q", 0, "q-primary").ok);
  ASSERT_TRUE(store().test_and_set("q", 1, "q-backup").won);
  restart();
  EXPECT_EQ(store().read("p"), (ArbiterState{1, Mode::kPaired, "primary"}));
  EXPECT_EQ(store().read("q"), (ArbiterState{1, Mode::kAlone, "q-backup"}));
  EXPECT_FALSE(store().test_and_set("q", 1, "q-primary").won);
  EXPECT_TRUE(store().test_and_set("p", 1, "primary").won);
  restart();
  EXPECT_EQ(store().read("p"), (ArbiterState{1, Mode::kAlone, "primary"}));
}

TEST_F(ArbiterStoreTest, ReadingUnknownPairsLeavesNoFiles) {
  EXPECT_EQ(store().read("p"), kNever);
  EXPECT_THROW(store().test_and_set("p", 1, "x"), ArbiterUnavailable);
  EXPECT_FALSE(store().register_epoch("p", 7, "x").ok);
  EXPECT_FALSE(fs::exists(dir_ / "p.state"));
}

TEST_F(ArbiterStoreTest, AFailedWriteMakesNoDecision) {
  register_p();
  // A directory where the new state file must be created: its creation fails even for root.
  fs::create_directory(dir_ / "p.state.tmp");
  try {
    store().test_and_set("p", 1, "backup");
    FAIL() << "decided without persisting";
  } catch (const ArbiterUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("cannot persist the decision for pair 'p'"),
              std::string::npos)
        << e.what();
  }
  EXPECT_EQ(store().read("p"), (ArbiterState{1, Mode::kPaired, "primary"}));
  EXPECT_THROW(store().register_epoch("p", 1, "primary"), ArbiterUnavailable);
  EXPECT_EQ(store().read("p"), (ArbiterState{1, Mode::kPaired, "primary"}));
  restart();
  EXPECT_EQ(store().read("p"), (ArbiterState{1, Mode::kPaired, "primary"}));

  fs::remove(dir_ / "p.state.tmp");
  EXPECT_TRUE(store().test_and_set("p", 1, "backup").won);
}

TEST_F(ArbiterStoreTest, AnUnwritableDirectoryMakesNoDecision) {
  if (::geteuid() == 0) {
    GTEST_SKIP() << "root writes through chmod 0500; AFailedWriteMakesNoDecision covers the "
                    "same path in a way root cannot bypass";
  }
  register_p();
  fs::permissions(dir_, fs::perms::owner_read | fs::perms::owner_exec);
  EXPECT_THROW(store().test_and_set("p", 1, "backup"), ArbiterUnavailable);
  EXPECT_THROW(store().register_epoch("q", 0, "primary"), ArbiterUnavailable);
  EXPECT_EQ(store().read("p"), (ArbiterState{1, Mode::kPaired, "primary"}));
  EXPECT_EQ(store().read("q"), kNever);
  fs::permissions(dir_, fs::perms::owner_all);
  EXPECT_TRUE(store().test_and_set("p", 1, "backup").won);
}

TEST_F(ArbiterStoreTest, ACorruptStateFileIsAnErrorNotAFreshPair) {
  store_.reset();
  std::ofstream(dir_ / "p.state") << "vmft-arbiter-state 1\n3 alone\n";
  store_.emplace(dir_);
  try {
    store().read("p");
    FAIL() << "no error";
  } catch (const ArbiterUnavailable& e) {
    EXPECT_NE(std::string(e.what()).find("p.state is not a valid arbiter state file"),
              std::string::npos)
        << e.what();
  }
  EXPECT_THROW(store().register_epoch("p", 0, "primary"), ArbiterUnavailable);
  EXPECT_EQ(store().read("q"), kNever) << "other pairs are still served";
}

TEST_F(ArbiterStoreTest, StateFileIsPlainText) {
  register_p();
  std::ifstream in(dir_ / "p.state");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "vmft-arbiter-state 1\n1 paired primary\n");
  EXPECT_FALSE(fs::exists(dir_ / "p.state.tmp"));
}

TEST_F(ArbiterStoreTest, TheLastEpochCannotBeRegisteredPast) {
  store_.reset();
  std::ofstream(dir_ / "p.state") << "vmft-arbiter-state 1\n18446744073709551615 paired a\n";
  store_.emplace(dir_);
  EXPECT_THROW(store().register_epoch("p", std::numeric_limits<uint64_t>::max(), "a"),
               ArbiterUnavailable);
  EXPECT_EQ(store().read("p").epoch, std::numeric_limits<uint64_t>::max());
}

TEST_F(ArbiterStoreTest, ASecondStoreOnTheSameDirectoryIsRefused) {
  try {
    ArbiterStore second(dir_);
    FAIL() << "two stores share " << dir_;
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("is in use by another arbiter"), std::string::npos)
        << e.what();
  }
}

TEST_F(ArbiterStoreTest, CreatesAMissingDataDirectory) {
  ArbiterStore nested(dir_ / "a" / "b");
  EXPECT_TRUE(nested.register_epoch("p", 0, "primary").ok);
  EXPECT_TRUE(fs::exists(dir_ / "a" / "b" / "p.state"));
}

TEST_F(ArbiterStoreTest, RejectsBadPairNames) {
  const std::string too_long(65, 'a');
  for (const std::string& pair :
       {std::string(), too_long, std::string("a/b"), std::string("../x"), std::string("a b"),
        std::string("a\n"), std::string("caf\xc3\xa9")}) {
    EXPECT_THROW(store().read(pair), std::invalid_argument) << pair;
    EXPECT_THROW(store().register_epoch(pair, 0, "primary"), std::invalid_argument) << pair;
    EXPECT_THROW(store().test_and_set(pair, 1, "primary"), std::invalid_argument) << pair;
  }
  EXPECT_TRUE(store().register_epoch(std::string(64, 'a'), 0, "primary").ok);
  EXPECT_TRUE(store().register_epoch("A-z_0.9", 0, "primary").ok);
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 3)
      << "two state files and the lock, nothing for the bad names";
}

TEST_F(ArbiterStoreTest, RejectsBadIds) {
  register_p();
  const std::string too_long(129, 'x');
  for (const std::string& id :
       {std::string(), too_long, std::string("-"), std::string("a b"), std::string("a\tb"),
        std::string("a\x7f"), std::string("\xc3\xa9")}) {
    EXPECT_THROW(store().register_epoch("p", 1, id), std::invalid_argument) << id;
    EXPECT_THROW(store().test_and_set("p", 1, id), std::invalid_argument) << id;
  }
  EXPECT_EQ(store().read("p"), (ArbiterState{1, Mode::kPaired, "primary"}));
  EXPECT_TRUE(store().test_and_set("p", 1, std::string(128, '~')).won);
}

TEST_F(ArbiterStoreTest, TheHolderReleasesItsEpochAndAnyPrimaryRegistersTheNext) {
  register_p();
  const ReleaseResult r = store().release("p", 1, "primary");
  EXPECT_TRUE(r.ok);
  const ArbiterState released{1, Mode::kReleased, ""};
  EXPECT_EQ(r.state, released);
  EXPECT_EQ(store().read("p"), released);
  EXPECT_TRUE(store().release("p", 1, "primary").ok);  // a retry
  const RegisterResult again = store().register_epoch("p", 1, "another");
  EXPECT_TRUE(again.ok);
  EXPECT_EQ(again.state, (ArbiterState{2, Mode::kPaired, "another"}));
}

TEST_F(ArbiterStoreTest, OnlyTheHolderReleasesAndOnlyItsOwnEpoch) {
  register_p();
  const ArbiterState paired{1, Mode::kPaired, "primary"};
  const ReleaseResult other = store().release("p", 1, "backup");
  EXPECT_FALSE(other.ok);
  EXPECT_EQ(other.state, paired);
  EXPECT_FALSE(store().release("p", 2, "primary").ok);
  EXPECT_FALSE(store().release("p", 0, "primary").ok);
  EXPECT_FALSE(store().release("q", 0, "primary").ok);  // never registered
  ASSERT_TRUE(store().test_and_set("p", 1, "backup").won);
  EXPECT_FALSE(store().release("p", 1, "primary").ok);  // the backup holds it now
  EXPECT_TRUE(store().release("p", 1, "backup").ok);
}

TEST_F(ArbiterStoreTest, NobodyWinsAReleasedEpoch) {
  register_p();
  ASSERT_TRUE(store().release("p", 1, "primary").ok);
  const TasResult r = store().test_and_set("p", 1, "backup");
  EXPECT_FALSE(r.won);
  EXPECT_EQ(r.state, (ArbiterState{1, Mode::kReleased, ""}));
  EXPECT_FALSE(store().test_and_set("p", 1, "primary").won);
}

TEST_F(ArbiterStoreTest, AReleaseSurvivesANewStoreOnTheSameDirectory) {
  register_p();
  ASSERT_TRUE(store().release("p", 1, "primary").ok);
  restart();
  EXPECT_EQ(store().read("p"), (ArbiterState{1, Mode::kReleased, ""}));
}

TEST_F(ArbiterStoreTest, ListsThePairsItHasAStateForSorted) {
  EXPECT_EQ(store().list(10).total, 0u);
  ASSERT_TRUE(store().register_epoch("zeta", 0, "a").ok);
  ASSERT_TRUE(store().register_epoch("alpha", 0, "a").ok);
  ASSERT_TRUE(store().register_epoch("mid", 0, "a").ok);
  (void)store().read("unknown");  // reading makes no pair
  const auto all = store().list(10);
  EXPECT_EQ(all.total, 3u);
  EXPECT_EQ(all.names, (std::vector<std::string>{"alpha", "mid", "zeta"}));
  const auto first = store().list(2);
  EXPECT_EQ(first.total, 3u);
  EXPECT_EQ(first.names, (std::vector<std::string>{"alpha", "mid"}));
}

// The protocol, line in and line out.
class ArbiterRequestTest : public ArbiterStoreTest {
 protected:
  std::string answer(std::string_view line) { return answer_request(store(), line); }
};

TEST_F(ArbiterRequestTest, AnswersEachRequestKind) {
  EXPECT_EQ(answer("READ p"), "STATE 0 none -");
  EXPECT_EQ(answer("REGISTER p 0 primary"), "OK 1");
  EXPECT_EQ(answer("REGISTER p 0 primary"), "REFUSED 1 paired primary");
  EXPECT_EQ(answer("READ p"), "STATE 1 paired primary");
  EXPECT_EQ(answer("TAS p 1 backup"), "WON 1");
  EXPECT_EQ(answer("TAS p 1 backup"), "WON 1");
  EXPECT_EQ(answer("TAS p 1 primary"), "LOST 1 alone backup");
  EXPECT_EQ(answer("TAS p 0 primary"), "LOST 1 alone backup");
  EXPECT_EQ(answer("READ p"), "STATE 1 alone backup");
}

TEST_F(ArbiterRequestTest, AnswersReleaseAndList) {
  EXPECT_EQ(answer("LIST"), "PAIRS 0");
  EXPECT_EQ(answer("REGISTER p 0 primary"), "OK 1");
  EXPECT_EQ(answer("REGISTER q 0 primary"), "OK 1");
  EXPECT_EQ(answer("LIST"), "PAIRS 2 p q");
  EXPECT_EQ(answer("RELEASE p 1 backup"), "REFUSED 1 paired primary");
  EXPECT_EQ(answer("RELEASE p 1 primary"), "OK 1");
  EXPECT_EQ(answer("READ p"), "STATE 1 released -");
  EXPECT_EQ(answer("TAS p 1 backup"), "LOST 1 released -");
  EXPECT_EQ(answer("REGISTER p 1 other"), "OK 2");
  EXPECT_EQ(answer("LIST p"), "ERR usage: LIST");
  EXPECT_EQ(answer("RELEASE p 1"), "ERR usage: RELEASE <pair> <epoch> <id>");
}

TEST(ArbiterReplies, ReleaseAndListRepliesRoundTrip) {
  using namespace vmft::arbiter::detail;
  const ReleaseResult ok{true, {4, Mode::kReleased, ""}};
  const ReleaseResult refused{false, {5, Mode::kAlone, "b"}};
  EXPECT_EQ(parse_release_reply(format_reply(ok), 4).state, ok.state);
  EXPECT_TRUE(parse_release_reply(format_reply(ok), 4).ok);
  EXPECT_EQ(parse_release_reply(format_reply(refused), 4).state, refused.state);
  EXPECT_THROW(parse_release_reply("OK 3", 4), ArbiterUnavailable);  // another epoch's
  EXPECT_THROW(parse_release_reply("REFUSED 4 released x", 4), ArbiterUnavailable);
  const Arbiter::PairList list{{"a", "b"}, 5};
  const auto again = parse_list_reply(format_reply(list));
  EXPECT_EQ(again.names, list.names);
  EXPECT_EQ(again.total, 5u);
  EXPECT_THROW(parse_list_reply("PAIRS 1 a b"), ArbiterUnavailable);  // more names than pairs
  EXPECT_THROW(parse_list_reply("PAIRS 2 a/b"), ArbiterUnavailable);
}

TEST_F(ArbiterRequestTest, ToleratesCarriageReturnsAndExtraBlanks) {
  EXPECT_EQ(answer("REGISTER  p\t0 primary\r"), "OK 1");
  EXPECT_EQ(answer("  READ p  "), "STATE 1 paired primary");
}

TEST_F(ArbiterRequestTest, UnknownEpochIsAnError) {
  EXPECT_EQ(answer("TAS p 1 backup"), "ERR unknown epoch 1 for pair 'p' (never registered)");
}

TEST_F(ArbiterRequestTest, MalformedRequestsGetErrNamingTheProblem) {
  EXPECT_EQ(answer(""), "ERR empty request");
  EXPECT_EQ(answer("HELLO p"),
            "ERR unknown request 'HELLO' (expected READ, REGISTER, TAS, RELEASE or LIST)");
  EXPECT_EQ(answer("read p"),
            "ERR unknown request 'read' (expected READ, REGISTER, TAS, RELEASE or LIST)");
  EXPECT_EQ(answer("READ"), "ERR usage: READ <pair>");
  EXPECT_EQ(answer("READ p q"), "ERR usage: READ <pair>");
  EXPECT_EQ(answer("REGISTER p 0"), "ERR usage: REGISTER <pair> <expected_epoch> <id>");
  EXPECT_EQ(answer("TAS p 1 a b"), "ERR usage: TAS <pair> <epoch> <id>");
  EXPECT_EQ(answer("TAS p -1 a"),
            "ERR epoch '-1' is not a decimal number from 0 to 18446744073709551615");
  EXPECT_EQ(answer("TAS p +1 a").substr(0, 10), "ERR epoch ");
  EXPECT_EQ(answer("TAS p 1x a").substr(0, 10), "ERR epoch ");
  EXPECT_EQ(answer("TAS p 18446744073709551616 a").substr(0, 10), "ERR epoch ");
  EXPECT_EQ(answer("READ a/b"), "ERR pair name 'a/b' has a character outside [A-Za-z0-9._-]");
  EXPECT_EQ(answer("TAS p 1 -"), "ERR id '-' is reserved (it means nobody)");
}

TEST_F(ArbiterRequestTest, ErrorRepliesStayOnOneLine) {
  const std::string reply = answer(std::string("X\x01\x7f") + std::string(500, 'y'));
  EXPECT_EQ(reply.substr(0, 4), "ERR ");
  EXPECT_EQ(reply.find_first_of(std::string("\n\r\x01\x7f", 4)), std::string::npos) << reply;
  EXPECT_LE(reply.size(), 300u);
}

}  // namespace
}  // namespace vmft::arbiter
