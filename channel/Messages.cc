#include "Messages.h"

#include "vmft/logchannel/ByteIo.h"
#include "vmft/logchannel/LogError.h"

namespace vmft::channel::detail {

namespace {

using logchannel::LogError;
using logchannel::StateDigest;
using logchannel::detail::ByteReader;
using logchannel::detail::ByteWriter;

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

// A message of a type byte and a number: an epoch, its acknowledgement, a release.
std::vector<uint8_t> number_message(MessageType type, uint64_t number) {
  std::vector<uint8_t> payload{type};
  ByteWriter(payload).varint(number);
  return payload;
}

// An id at the arbiter is at most 128 characters (arbiter::check_holder_id); a hello's may be
// empty (a backup that has none) and is compared, never used as one.
constexpr uint64_t kMaxIdBytes = 128;

}  // namespace

std::vector<uint8_t> encode_hello(MessageType type, const std::string& pair, const std::string& id,
                                  const LogHeader& header) {
  std::vector<uint8_t> out{type};
  ByteWriter w(out);
  w.fixed32(kChannelVersion);
  w.varint(pair.size());
  w.bytes(bytes_of(pair));
  w.varint(id.size());
  w.bytes(bytes_of(id));
  logchannel::encode_header(header, out);
  return out;
}

Hello decode_hello(std::span<const uint8_t> payload) {
  ByteReader r(payload, 0, "the backup's hello");
  r.u8();
  Hello hello;
  hello.version = r.fixed32();
  if (hello.version != kChannelVersion) return hello;
  const auto pair = r.sized_bytes(logchannel::kMaxGuestNameBytes, "pair name");
  hello.pair.assign(pair.begin(), pair.end());
  const auto id = r.sized_bytes(kMaxIdBytes, "id");
  hello.id.assign(id.begin(), id.end());
  hello.header = logchannel::decode_header(payload.subspan(r.position()), r.position());
  return hello;
}

std::vector<uint8_t> encode_welcome(const std::optional<auth::Mac>& proof) {
  std::vector<uint8_t> payload{kWelcome};
  if (proof) payload.insert(payload.end(), proof->begin(), proof->end());
  return payload;
}

std::span<const uint8_t> decode_welcome(std::span<const uint8_t> payload) {
  return payload.subspan(1);
}

std::vector<uint8_t> encode_refuse(std::string_view reason) {
  std::vector<uint8_t> payload{kRefuse};
  ByteWriter(payload).bytes(bytes_of(reason));
  return payload;
}

std::string decode_refuse(std::span<const uint8_t> payload) {
  const auto text = payload.subspan(1);
  return {text.begin(), text.end()};
}

std::vector<uint8_t> encode_ack(const Ack& ack) {
  std::vector<uint8_t> payload{kAck};
  ByteWriter w(payload);
  w.varint(ack.seq);
  w.varint(ack.icount);
  return payload;
}

Ack decode_ack(std::span<const uint8_t> payload) {
  ByteReader r(payload, 0, "the backup's message");
  r.u8();
  Ack ack;
  ack.seq = r.varint();
  ack.icount = r.varint();
  return ack;
}

namespace {

// An epoch message, its acknowledgement and a release are the same: a type byte and a number.
uint64_t decode_number_message(std::span<const uint8_t> payload, const char* what) {
  ByteReader r(payload, 0, what);
  r.u8();
  return r.varint();
}

}  // namespace

std::vector<uint8_t> encode_epoch(uint64_t epoch) { return number_message(kEpoch, epoch); }

uint64_t decode_epoch(std::span<const uint8_t> payload) {
  return decode_number_message(payload, "the primary's epoch");
}

std::vector<uint8_t> encode_epoch_ack(uint64_t epoch) { return number_message(kEpochAck, epoch); }

uint64_t decode_epoch_ack(std::span<const uint8_t> payload) {
  return decode_number_message(payload, "the backup's epoch acknowledgement");
}

std::vector<uint8_t> encode_released(uint64_t seq) { return number_message(kReleased, seq); }

uint64_t decode_released(std::span<const uint8_t> payload) {
  return decode_number_message(payload, "the primary's release of outputs");
}

std::vector<uint8_t> encode_batch(uint64_t mark, std::span<const uint8_t> records) {
  std::vector<uint8_t> payload{kBatch};
  ByteWriter w(payload);
  w.varint(mark);
  w.bytes(records);
  return payload;
}

uint64_t decode_batch(std::span<const uint8_t> payload, RecordDecoder& decoder, uint64_t& seq,
                      std::vector<std::pair<Record, size_t>>& records) {
  ByteReader r(payload, 0, "a batch from the primary");
  r.u8();
  const uint64_t mark = r.varint();
  size_t pos = r.position();
  uint64_t chunks = 0;
  while (pos < payload.size()) {
    logchannel::DecodedRecord d = decoder.decode(payload.subspan(pos), pos);
    if (d.record.seq != seq + 1) {
      throw LogError("record #" + std::to_string(d.record.seq) + " follows #" +
                     std::to_string(seq));
    }
    size_t held = d.size;
    if (const auto* digest = std::get_if<StateDigest>(&d.record.body)) {
      chunks += digest->ram_chunks.size();
      if (chunks > kMaxBatchRamChunks) {
        r.fail_at(pos, "the batch's digests hold more than " + std::to_string(kMaxBatchRamChunks) +
                           " RAM chunk hashes");
      }
      held += digest->ram_chunks.size() * sizeof(uint64_t);
    }
    seq = d.record.seq;
    pos += d.size;
    records.emplace_back(std::move(d.record), held);
  }
  return mark;
}

std::vector<uint8_t> encode_ram(const RamRun& run) {
  std::vector<uint8_t> payload{kRam};
  ByteWriter w(payload);
  w.varint(run.offset);
  w.bytes(run.bytes);
  return payload;
}

RamRun decode_ram(std::span<const uint8_t> payload) {
  ByteReader r(payload, 0, "the primary's RAM");
  r.u8();
  RamRun run;
  run.offset = r.varint();
  run.bytes = payload.subspan(r.position());
  return run;
}

std::vector<uint8_t> encode_snapshot_start(const SnapshotStart& start) {
  std::vector<uint8_t> payload{kSnapshot};
  ByteWriter w(payload);
  w.varint(start.seq);
  w.varint(start.icount);
  w.bytes(start.snapshot);
  return payload;
}

SnapshotStart decode_snapshot_start(std::span<const uint8_t> payload) {
  ByteReader r(payload, 0, "the primary's snapshot");
  r.u8();
  SnapshotStart start;
  start.seq = r.varint();
  start.icount = r.varint();
  start.snapshot = payload.subspan(r.position());
  return start;
}

std::vector<uint8_t> encode_challenge(const auth::Nonce& nonce) {
  std::vector<uint8_t> payload{kChallenge};
  payload.insert(payload.end(), nonce.begin(), nonce.end());
  return payload;
}

auth::Nonce decode_challenge(std::span<const uint8_t> payload) {
  ByteReader r(payload, 0, "the primary's challenge");
  r.u8();
  auth::Nonce nonce;
  const auto bytes = r.bytes(nonce.size());
  std::copy(bytes.begin(), bytes.end(), nonce.begin());
  if (r.remaining() != 0) r.fail_at(r.position(), "bytes after the nonce");
  return nonce;
}

Proof decode_proof(std::span<const uint8_t> payload) {
  ByteReader r(payload, 0, "the backup's answer to the challenge");
  r.u8();
  Proof proof;
  const auto nonce = r.bytes(proof.nonce.size());
  std::copy(nonce.begin(), nonce.end(), proof.nonce.begin());
  const auto mac = r.bytes(proof.mac.size());
  std::copy(mac.begin(), mac.end(), proof.mac.begin());
  if (r.remaining() != 0) r.fail_at(r.position(), "bytes after the MAC");
  return proof;
}

std::vector<uint8_t> encode_proof(const Proof& proof) {
  std::vector<uint8_t> payload{kProof};
  payload.insert(payload.end(), proof.nonce.begin(), proof.nonce.end());
  payload.insert(payload.end(), proof.mac.begin(), proof.mac.end());
  return payload;
}

std::vector<uint8_t> encode_goodbye() { return {kGoodbye}; }

auth::Mac backup_proof(std::string_view secret, const auth::Nonce& challenge,
                       const auth::Nonce& backup_nonce, std::span<const uint8_t> hello) {
  return auth::hmac(secret, {auth::bytes_of("vmft-channel"), challenge, backup_nonce, hello});
}

auth::Mac primary_proof(std::string_view secret, const auth::Nonce& backup_nonce) {
  return auth::hmac(secret, {auth::bytes_of("vmft-channel-primary"), backup_nonce});
}

}  // namespace vmft::channel::detail
