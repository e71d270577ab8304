#pragma once
// The logging channel's handshake and message payloads (docs/channel-protocol.md) as pure
// functions, apart from the sockets so that fuzz/ can feed them any bytes. Each decoder takes a
// whole frame payload whose first byte, the message type, the caller has checked, and reads the
// rest with a ByteReader: malformed bytes throw LogError saying where. Private to logchannel;
// the message types, and the encoders of all but the hello, are in Channel.cc.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "vmft/auth/Secret.h"
#include "vmft/logchannel/Record.h"
#include "vmft/logchannel/RecordCodec.h"

namespace vmft::logchannel::detail {

/// The version a hello carries: of the channel's messages and of the log records they carry.
/// Bump it on any change to a message (docs/channel-protocol.md), and with kFormatVersion.
/// 4: the primary tells the backup which outputs have left it (message 13, released).
/// 6: log format 5 (frame NIC: its settings in the header, frames in and out).
/// 7: log format 6 (the frame NIC's link event, at a failover).
/// 8: the backup's id in its hello; its goodbye (message 14) when it stops on purpose.
inline constexpr uint32_t kChannelVersion = 8;
static_assert(kFormatVersion == 6,
              "a new log format is a new channel protocol: bump kChannelVersion, then this");

/// A backup's hello.
struct Hello {
  uint32_t version = 0;  ///< the backup's kChannelVersion
  /// Read only when `version` is this vmft's kChannelVersion: another version may lay them out
  /// differently.
  std::string pair;
  std::string id;  ///< the backup's id at the arbiter
  LogHeader header;
};

/// Appends the fields of a hello from this vmft (what follows its type byte) to `out`.
void encode_hello(const std::string& pair, const std::string& id, const LogHeader& header,
                  std::vector<uint8_t>& out);
Hello decode_hello(std::span<const uint8_t> payload);

/// A backup's acknowledgement.
struct Ack {
  uint64_t seq = 0;     ///< the highest record seq received
  uint64_t icount = 0;  ///< the instruction count the backup has executed to
};
Ack decode_ack(std::span<const uint8_t> payload);

/// The epoch the primary's pair was registered at.
uint64_t decode_epoch(std::span<const uint8_t> payload);
/// The epoch a backup says it has received.
uint64_t decode_epoch_ack(std::span<const uint8_t> payload);
/// The seq through which every output of the primary's log has left it.
uint64_t decode_released(std::span<const uint8_t> payload);

/// The RAM chunk hashes the digests of one batch may hold in all: eight digests of the largest
/// RAM a record may describe (64 MiB of hashes). A pair takes a digest every 2^28 instructions
/// and sends a batch at least every heartbeat, so a batch holds one or two; but an unchanged run
/// of chunks costs a byte or two to send, so without this bound a batch of a few KiB could make
/// a backup allocate gigabytes.
inline constexpr uint64_t kMaxBatchRamChunks = 8 * kMaxRamChunks;

/// A batch: returns its progress mark and appends its records to `records`, each with what
/// holding it costs: its encoded size plus its digest's RAM chunk hashes, so that a backup that
/// bounds the sum bounds its memory. `decoder` is the connection's (records are delta-coded
/// across batches). `seq` is the last seq received before the batch; each record must carry the
/// next one, and `seq` ends at the batch's last. Throws LogError past kMaxBatchRamChunks.
uint64_t decode_batch(std::span<const uint8_t> payload, RecordDecoder& decoder, uint64_t& seq,
                      std::vector<std::pair<Record, size_t>>& records);

/// Bytes of a joining backup's RAM from the primary, at `offset` from the start of RAM. Views
/// the payload.
struct RamRun {
  uint64_t offset = 0;
  std::span<const uint8_t> bytes;
};
RamRun decode_ram(std::span<const uint8_t> payload);

/// Where a joining backup starts: the primary's snapshot (opaque here: hypervisor/Snapshot.h
/// encodes it) taken after log record `seq`, at instruction `icount`. Views the payload.
struct SnapshotStart {
  uint64_t seq = 0;
  uint64_t icount = 0;
  std::span<const uint8_t> snapshot;
};
SnapshotStart decode_snapshot_start(std::span<const uint8_t> payload);

/// With a secret, the primary's challenge: its nonce.
auth::Nonce decode_challenge(std::span<const uint8_t> payload);

/// A backup's answer to a challenge, sent right after its hello: its own nonce, which the
/// primary's welcome must prove it knows the secret with, and its MAC.
struct Proof {
  auth::Nonce nonce{};
  auth::Mac mac{};
};
Proof decode_proof(std::span<const uint8_t> payload);
void encode_proof(const Proof& proof, std::vector<uint8_t>& out);

/// What the backup MACs: "vmft-channel", the primary's nonce, the backup's nonce, and the
/// whole hello (or join) payload, so that a hello changed on the way fails as well.
auth::Mac backup_proof(std::string_view secret, const auth::Nonce& challenge,
                       const auth::Nonce& backup_nonce, std::span<const uint8_t> hello);
/// What the primary's welcome carries: "vmft-channel-primary" and the backup's nonce, MACed.
auth::Mac primary_proof(std::string_view secret, const auth::Nonce& backup_nonce);

}  // namespace vmft::logchannel::detail
