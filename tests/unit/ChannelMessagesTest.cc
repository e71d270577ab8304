// Every logging channel message through its encoder and back through its decoder
// (channel/Messages.h): what one end writes is what the other reads.
#include <gtest/gtest.h>

#include <algorithm>

#include "LogTestSupport.h"
#include "Messages.h"
#include "vmft/channel/Channel.h"
#include "vmft/logchannel/LogError.h"

namespace vmft::testing {
namespace {

using namespace channel::detail;
using logchannel::LogError;
using logchannel::testing::one_of_each;
using logchannel::testing::SameRecord;

logchannel::LogHeader header() {
  logchannel::LogHeader h;
  h.guest_digest = 0x0123456789abcdef;
  h.guest_name = "kvstore.elf";
  h.ram_size = 64u << 20;
  h.has_tcp = true;
  h.emulator = "unicorn 2.1.1";
  h.frames = logchannel::FrameNicConfig{0x02000000beef, 0x0a000002, 24, 0x0a000001, 1500};
  return h;
}

bool same_bytes(std::span<const uint8_t> a, std::span<const uint8_t> b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end());
}

TEST(ChannelMessages, AHelloRoundTripsItsVersionPairIdAndHeader) {
  const auto payload = encode_hello(kHello, "kv", "backup-1", header());
  EXPECT_EQ(payload[0], kHello);
  const Hello hello = decode_hello(payload);
  EXPECT_EQ(hello.version, kChannelVersion);
  EXPECT_EQ(hello.pair, "kv");
  EXPECT_EQ(hello.id, "backup-1");
  EXPECT_EQ(channel::pairing_mismatch("kv", header(), hello.pair, hello.header), "");
  EXPECT_EQ(hello.header.frames, header().frames);
}

TEST(ChannelMessages, AJoinIsAHelloUnderItsOwnType) {
  const auto join = encode_hello(kJoin, "kv", "", header());
  EXPECT_EQ(join[0], kJoin);
  auto hello = encode_hello(kHello, "kv", "", header());
  hello[0] = kJoin;
  EXPECT_EQ(join, hello);
  EXPECT_EQ(decode_hello(join).id, "");
}

TEST(ChannelMessages, AHelloCutShortIsMalformed) {
  auto payload = encode_hello(kHello, "kv", "backup-1", header());
  payload.resize(payload.size() - 1);
  EXPECT_THROW(decode_hello(payload), LogError);
}

TEST(ChannelMessages, AWelcomeCarriesThePrimarysProofOrNothing) {
  EXPECT_TRUE(decode_welcome(encode_welcome(std::nullopt)).empty());
  const auth::Mac mac = primary_proof("secret", auth::make_nonce());
  const auto payload = encode_welcome(mac);
  EXPECT_EQ(payload[0], kWelcome);
  EXPECT_TRUE(auth::mac_matches(decode_welcome(payload), mac));
}

TEST(ChannelMessages, ARefusalCarriesItsReason) {
  const std::string reason = "pair 'kv' already has a backup";
  const auto payload = encode_refuse(reason);
  EXPECT_EQ(payload[0], kRefuse);
  EXPECT_EQ(decode_refuse(payload), reason);
}

TEST(ChannelMessages, ABatchRoundTripsItsMarkAndRecords) {
  const auto sent = one_of_each();
  logchannel::RecordEncoder encoder;
  std::vector<uint8_t> records;
  for (const auto& r : sent) encoder.encode(r, records);
  const auto payload = encode_batch(987654, records);
  EXPECT_EQ(payload[0], kBatch);
  logchannel::RecordDecoder decoder;
  uint64_t seq = 0;
  std::vector<std::pair<logchannel::Record, size_t>> got;
  EXPECT_EQ(decode_batch(payload, decoder, seq, got), 987654u);
  EXPECT_EQ(seq, sent.size());
  ASSERT_EQ(got.size(), sent.size());
  for (size_t i = 0; i < sent.size(); ++i) EXPECT_TRUE(SameRecord(got[i].first, sent[i]));
}

TEST(ChannelMessages, AHeartbeatIsABatchOfAMarkAlone) {
  logchannel::RecordDecoder decoder;
  uint64_t seq = 7;
  std::vector<std::pair<logchannel::Record, size_t>> got;
  EXPECT_EQ(decode_batch(encode_batch(0, {}), decoder, seq, got), 0u);
  EXPECT_EQ(seq, 7u);
  EXPECT_TRUE(got.empty());
}

TEST(ChannelMessages, AnAckRoundTripsItsSeqAndInstructionCount) {
  const auto payload = encode_ack({41, 1u << 30});
  EXPECT_EQ(payload[0], kAck);
  const Ack ack = decode_ack(payload);
  EXPECT_EQ(ack.seq, 41u);
  EXPECT_EQ(ack.icount, 1u << 30);
}

TEST(ChannelMessages, AnEpochItsAcknowledgementAndAReleaseRoundTripTheirNumber) {
  EXPECT_EQ(encode_epoch(9)[0], kEpoch);
  EXPECT_EQ(decode_epoch(encode_epoch(9)), 9u);
  EXPECT_EQ(encode_epoch_ack(9)[0], kEpochAck);
  EXPECT_EQ(decode_epoch_ack(encode_epoch_ack(9)), 9u);
  EXPECT_EQ(encode_released(UINT64_MAX)[0], kReleased);
  EXPECT_EQ(decode_released(encode_released(UINT64_MAX)), UINT64_MAX);
}

TEST(ChannelMessages, RamRoundTripsItsOffsetAndBytes) {
  const std::vector<uint8_t> bytes{1, 2, 3, 4, 5};
  const auto payload = encode_ram({4096, bytes});
  EXPECT_EQ(payload[0], kRam);
  const RamRun run = decode_ram(payload);
  EXPECT_EQ(run.offset, 4096u);
  EXPECT_TRUE(same_bytes(run.bytes, bytes));
}

TEST(ChannelMessages, ASnapshotStartRoundTripsWhereItWasTakenAndTheSnapshot) {
  const std::vector<uint8_t> snapshot(300, 0xa5);
  const auto payload = encode_snapshot_start({12, 345678, snapshot});
  EXPECT_EQ(payload[0], kSnapshot);
  const SnapshotStart start = decode_snapshot_start(payload);
  EXPECT_EQ(start.seq, 12u);
  EXPECT_EQ(start.icount, 345678u);
  EXPECT_TRUE(same_bytes(start.snapshot, snapshot));
}

TEST(ChannelMessages, AChallengeRoundTripsItsNonceAndNothingMore) {
  const auth::Nonce nonce = auth::make_nonce();
  auto payload = encode_challenge(nonce);
  EXPECT_EQ(payload[0], kChallenge);
  EXPECT_EQ(decode_challenge(payload), nonce);
  payload.push_back(0);
  EXPECT_THROW(decode_challenge(payload), LogError);
}

TEST(ChannelMessages, AProofRoundTripsItsNonceAndMac) {
  const Proof proof{auth::make_nonce(), backup_proof("secret", {}, {}, {})};
  const auto payload = encode_proof(proof);
  EXPECT_EQ(payload[0], kProof);
  const Proof got = decode_proof(payload);
  EXPECT_EQ(got.nonce, proof.nonce);
  EXPECT_EQ(got.mac, proof.mac);
}

TEST(ChannelMessages, AGoodbyeIsItsTypeAlone) {
  EXPECT_EQ(encode_goodbye(), std::vector<uint8_t>{kGoodbye});
}

}  // namespace
}  // namespace vmft::testing
