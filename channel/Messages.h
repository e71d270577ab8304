#pragma once
// The logging channel's messages (docs/channel-protocol.md) as pure functions: each message's
// encoder beside its decoder, apart from the sockets so that fuzz/ can feed the decoders any
// bytes. An encoder returns a whole frame payload, its type byte first. A decoder takes a whole
// frame payload whose type byte the caller has checked, and reads the rest with a ByteReader:
// malformed bytes throw LogError saying where. Private to channel (fuzz/ and the tests reach it).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "vmft/auth/Secret.h"
#include "vmft/logchannel/Record.h"
#include "vmft/logchannel/RecordCodec.h"

namespace vmft::channel::detail {

using logchannel::LogHeader;
using logchannel::Record;
using logchannel::RecordDecoder;

/// The version a hello carries: of the channel's messages and of the log records they carry.
/// Bump it on any change to a message (docs/channel-protocol.md), and with kFormatVersion.
/// 4: the primary tells the backup which outputs have left it (message 13, released).
/// 6: log format 5 (frame NIC: its settings in the header, frames in and out).
/// 7: log format 6 (the frame NIC's link event, at a failover).
/// 8: the backup's id in its hello; its goodbye (message 14) when it stops on purpose.
inline constexpr uint32_t kChannelVersion = 8;
static_assert(logchannel::kFormatVersion == 6,
              "a new log format is a new channel protocol: bump kChannelVersion, then this");

/// The first byte of every message's frame payload. Part of the protocol: a change is a new
/// kChannelVersion.
enum MessageType : uint8_t {
  kHello = 1,       ///< backup -> primary: protocol version, pair name, id, header
  kWelcome = 2,     ///< primary -> backup: paired (with a secret, the primary's proof)
  kRefuse = 3,      ///< primary -> backup: why not
  kBatch = 4,       ///< primary -> backup: progress mark, then records
  kAck = 5,         ///< backup -> primary: highest seq received, instruction count executed
  kEpoch = 6,       ///< primary -> backup: the epoch the arbiter registered the pair at
  kJoin = 7,        ///< backup -> primary: as hello, from a backup that joins a running primary
  kRam = 8,         ///< primary -> joining backup: offset, then bytes of guest RAM
  kSnapshot = 9,    ///< primary -> joining backup: seq, icount, the machine's snapshot
  kChallenge = 10,  ///< primary with a secret -> backup, first: the primary's nonce
  kProof = 11,      ///< backup -> primary with a secret, after its hello: its nonce, its MAC
  kEpochAck = 12,   ///< backup -> primary: it has the epoch (and can claim it at the arbiter)
  kReleased = 13,   ///< primary -> backup: the outputs of every record through a seq have left
  kGoodbye = 14,    ///< backup -> primary: it stops on purpose; nothing follows the type
};

/// A handshake message is small: a pair name, an id and a header; a backup sends nothing larger
/// after it (acks, epoch acks, its goodbye), so the primary reads no frame larger from it.
inline constexpr uint32_t kMaxHandshakeBytes = 64 * 1024;

/// How a primary whose guest runs refuses a backup that starts from boot; the backup
/// recognises it (ChannelRefused::primary_runs) and may join instead. Part of the protocol.
inline constexpr std::string_view kPrimaryRunsRefusal =
    "is running: a new backup joins it with --join";

/// A backup's hello, or the same from a backup that joins.
struct Hello {
  uint32_t version = 0;  ///< the backup's kChannelVersion
  /// Read only when `version` is this vmft's kChannelVersion: another version may lay them out
  /// differently.
  std::string pair;
  std::string id;  ///< the backup's id at the arbiter
  LogHeader header;
};
/// A hello (kHello) or join (kJoin) from this vmft.
std::vector<uint8_t> encode_hello(MessageType type, const std::string& pair, const std::string& id,
                                  const LogHeader& header);
/// Either type; the caller tells them apart by the type byte.
Hello decode_hello(std::span<const uint8_t> payload);

/// The primary's welcome: with a secret, its proof (primary_proof) that it knows it.
std::vector<uint8_t> encode_welcome(const std::optional<auth::Mac>& proof);
/// What follows the type: the proof, or nothing. Views the payload; its length is checked by
/// whoever checks the proof (auth::mac_matches), as a short one is a wrong one.
std::span<const uint8_t> decode_welcome(std::span<const uint8_t> payload);

/// The primary's refusal, and why: text for the backup to show.
std::vector<uint8_t> encode_refuse(std::string_view reason);
std::string decode_refuse(std::span<const uint8_t> payload);

/// A batch: the primary's progress mark, then `records` as its RecordEncoder encoded them.
std::vector<uint8_t> encode_batch(uint64_t mark, std::span<const uint8_t> records);

/// The RAM chunk hashes the digests of one batch may hold in all: eight digests of the largest
/// RAM a record may describe (64 MiB of hashes). A pair takes a digest every 2^28 instructions
/// and sends a batch at least every heartbeat, so a batch holds one or two; but an unchanged run
/// of chunks costs a byte or two to send, so without this bound a batch of a few KiB could make
/// a backup allocate gigabytes.
inline constexpr uint64_t kMaxBatchRamChunks = 8 * logchannel::kMaxRamChunks;

/// A batch: returns its progress mark and appends its records to `records`, each with what
/// holding it costs: its encoded size plus its digest's RAM chunk hashes, so that a backup that
/// bounds the sum bounds its memory. `decoder` is the connection's (records are delta-coded
/// across batches). `seq` is the last seq received before the batch; each record must carry the
/// next one, and `seq` ends at the batch's last. Throws LogError past kMaxBatchRamChunks.
uint64_t decode_batch(std::span<const uint8_t> payload, RecordDecoder& decoder, uint64_t& seq,
                      std::vector<std::pair<Record, size_t>>& records);

/// A backup's acknowledgement.
struct Ack {
  uint64_t seq = 0;     ///< the highest record seq received
  uint64_t icount = 0;  ///< the instruction count the backup has executed to
};
std::vector<uint8_t> encode_ack(const Ack& ack);
Ack decode_ack(std::span<const uint8_t> payload);

/// The epoch the primary's pair was registered at.
std::vector<uint8_t> encode_epoch(uint64_t epoch);
uint64_t decode_epoch(std::span<const uint8_t> payload);
/// The epoch a backup says it has received.
std::vector<uint8_t> encode_epoch_ack(uint64_t epoch);
uint64_t decode_epoch_ack(std::span<const uint8_t> payload);
/// The seq through which every output of the primary's log has left it.
std::vector<uint8_t> encode_released(uint64_t seq);
uint64_t decode_released(std::span<const uint8_t> payload);

/// Bytes of a joining backup's RAM from the primary, at `offset` from the start of RAM.
struct RamRun {
  uint64_t offset = 0;
  std::span<const uint8_t> bytes;  ///< decoded: views the payload
};
std::vector<uint8_t> encode_ram(const RamRun& run);
RamRun decode_ram(std::span<const uint8_t> payload);

/// Where a joining backup starts: the primary's snapshot (opaque here: hypervisor/Snapshot.h
/// encodes it) taken after log record `seq`, at instruction `icount`.
struct SnapshotStart {
  uint64_t seq = 0;
  uint64_t icount = 0;
  std::span<const uint8_t> snapshot;  ///< decoded: views the payload
};
std::vector<uint8_t> encode_snapshot_start(const SnapshotStart& start);
SnapshotStart decode_snapshot_start(std::span<const uint8_t> payload);

/// With a secret, the primary's challenge: its nonce.
std::vector<uint8_t> encode_challenge(const auth::Nonce& nonce);
auth::Nonce decode_challenge(std::span<const uint8_t> payload);

/// A backup's answer to a challenge, sent right after its hello: its own nonce, which the
/// primary's welcome must prove it knows the secret with, and its MAC.
struct Proof {
  auth::Nonce nonce{};
  auth::Mac mac{};
};
std::vector<uint8_t> encode_proof(const Proof& proof);
Proof decode_proof(std::span<const uint8_t> payload);

/// The backup's goodbye: only its type, so nothing to decode.
std::vector<uint8_t> encode_goodbye();

/// What the backup MACs: "vmft-channel", the primary's nonce, the backup's nonce, and the
/// whole hello (or join) payload, so that a hello changed on the way fails as well.
auth::Mac backup_proof(std::string_view secret, const auth::Nonce& challenge,
                       const auth::Nonce& backup_nonce, std::span<const uint8_t> hello);
/// What the primary's welcome carries: "vmft-channel-primary" and the backup's nonce, MACed.
auth::Mac primary_proof(std::string_view secret, const auth::Nonce& backup_nonce);

}  // namespace vmft::channel::detail
