// The logging channel's decoders (channel/Messages.h), every one of them, fed frame by frame as
// each side reads them off its socket: the primary's handshake (a hello or join, and with a
// secret the backup's proof), acks and epoch acks; the backup's challenge, the welcome or
// refusal, epochs, releases, batches, and a joining backup's RAM and snapshot messages.
#include <algorithm>
#include <utility>
#include <vector>

#include "FuzzSupport.h"
#include "Messages.h"
#include "vmft/channel/Channel.h"
#include "vmft/logchannel/Frame.h"

namespace vmft::fuzz {

namespace {

using namespace vmft::logchannel;
using channel::ChannelConfig;
using channel::pairing_mismatch;
namespace messages = vmft::channel::detail;

// The frames in `stream` as FrameLink reads them: an 8-byte header, at most kMaxFramePayload
// bytes, never empty; a short last frame is a connection that closed.
std::vector<Bytes> split_frames(Bytes stream) {
  std::vector<Bytes> frames;
  while (stream.size() >= kFrameHeaderBytes) {
    const FrameHeader header = parse_frame_header(stream.first<kFrameHeaderBytes>());
    stream = stream.subspan(kFrameHeaderBytes);
    if (header.payload_bytes > kMaxFramePayload || header.payload_bytes > stream.size()) break;
    if (header.payload_bytes == 0) break;
    frames.push_back(stream.first(header.payload_bytes));
    stream = stream.subspan(header.payload_bytes);
  }
  return frames;
}

}  // namespace

ChannelConfig channel_primary_config() {
  ChannelConfig config;
  config.pair = "fuzz";
  config.header.guest_digest = 0x0123456789abcdef;
  config.header.guest_name = "counter.elf";
  config.header.ram_size = 64u << 20;
  config.header.has_tcp = true;
  return config;
}

namespace {

bool same_bytes(Bytes a, Bytes b) { return std::equal(a.begin(), a.end(), b.begin(), b.end()); }

// A primary with a secret reads the proof that follows the hello, and the hello only once the
// proof's MAC (over the hello, as it came) is right.
bool proof_accepted(Bytes hello, Bytes answer) {
  const messages::Proof proof = messages::decode_proof(answer);
  expect(same_bytes(messages::encode_proof(proof), answer), "a proof changed in a round trip");
  return auth::mac_matches(
      proof.mac, messages::backup_proof(kFuzzSecret, kFuzzPrimaryNonce, proof.nonce, hello));
}

void primary_reads(const std::vector<Bytes>& frames) {
  static const ChannelConfig config = channel_primary_config();
  size_t acks = 1;
  if (frames.size() > 1 && frames[1][0] == messages::kProof) {
    if (!proof_accepted(frames[0], frames[1])) return;  // refused
    acks = 2;
  }
  const messages::Hello hello = messages::decode_hello(frames.front());
  if (hello.version != messages::kChannelVersion) return;
  const std::string mismatch =
      pairing_mismatch(config.pair, config.header, hello.pair, hello.header);
  if (!mismatch.empty()) return;
  for (size_t i = acks; i < frames.size(); ++i) {
    if (frames[i][0] == messages::kGoodbye) return;  // the primary reads nothing after it
    if (frames[i][0] == messages::kEpochAck) {
      (void)messages::decode_epoch_ack(frames[i]);
    } else {
      (void)messages::decode_ack(frames[i]);
    }
  }
}

// A backup with a secret reads a challenge first; the welcome that follows must carry the MAC
// of its own nonce.
size_t challenge_read(const std::vector<Bytes>& frames) {
  if (frames[0][0] != messages::kChallenge) return 0;
  const auth::Nonce nonce = messages::decode_challenge(frames[0]);
  expect(same_bytes(nonce, frames[0].subspan(1)), "a challenge's nonce is not its bytes");
  return 1;
}

// The primary's answer to the hello: a refusal, after which the backup reads nothing, or a
// welcome, which after a challenge must carry the MAC of the backup's nonce.
bool answer_read(Bytes answer, bool challenged) {
  if (answer[0] == messages::kRefuse) {
    (void)messages::decode_refuse(answer);
    return false;
  }
  const Bytes proof = messages::decode_welcome(answer);
  if (challenged) {
    (void)auth::mac_matches(proof, messages::primary_proof(kFuzzSecret, kFuzzBackupNonce));
  }
  return true;
}

// After the answer, the messages a backup reads, by their type; the decoders skip the type
// byte, so for any other type its low bit picks one, as if it were an epoch or a batch.
void backup_reads(const std::vector<Bytes>& frames) {
  const size_t challenged = challenge_read(frames);
  if (challenged == frames.size() || !answer_read(frames[challenged], challenged != 0)) return;
  RecordDecoder decoder;
  uint64_t seq = 0;
  for (size_t i = 1 + challenged; i < frames.size(); ++i) {
    if (frames[i][0] == messages::kRam) {
      const messages::RamRun run = messages::decode_ram(frames[i]);
      expect(run.bytes.data() >= frames[i].data() &&
                 run.bytes.data() + run.bytes.size() == frames[i].data() + frames[i].size(),
             "RAM outside its frame");
      continue;
    }
    if (frames[i][0] == messages::kSnapshot) {
      const messages::SnapshotStart start = messages::decode_snapshot_start(frames[i]);
      expect(start.snapshot.size() < frames[i].size(), "a snapshot larger than its frame");
      continue;
    }
    if (frames[i][0] == messages::kReleased) {
      (void)messages::decode_released(frames[i]);
      continue;
    }
    if (frames[i][0] & 1) {
      (void)messages::decode_epoch(frames[i]);
      continue;
    }
    std::vector<std::pair<Record, size_t>> records;
    const uint64_t before = seq;
    (void)messages::decode_batch(frames[i], decoder, seq, records);
    expect(seq == before + records.size(), "a batch's records do not follow each other");
    uint64_t held = 0;
    for (const auto& [record, size] : records) {
      expect(size > 0, "a record of no bytes");
      held += size;
    }
    expect(held <= frames[i].size() + messages::kMaxBatchRamChunks * sizeof(uint64_t),
           "a batch costs a backup more memory than its bound");
  }
}

}  // namespace

void channel(Bytes data) {
  if (data.empty()) return;
  const bool to_backup = data[0] & 1;
  const std::vector<Bytes> frames = split_frames(data.subspan(1));
  if (frames.empty()) return;
  try {
    if (to_backup) {
      backup_reads(frames);
    } else {
      primary_reads(frames);
    }
  } catch (const LogError&) {
  }
}

}  // namespace vmft::fuzz
