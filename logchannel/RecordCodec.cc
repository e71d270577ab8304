// The log's encoding. docs/log-format.md describes the bytes; keep the two in step, and bump
// kFormatVersion (Record.h) on any change.
#include "vmft/logchannel/RecordCodec.h"

#include <xxhash.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <type_traits>

#include "vmft/guest/abi.h"
#include "vmft/logchannel/ByteIo.h"

namespace vmft::logchannel {

namespace {

using detail::ByteReader;
using detail::ByteWriter;
using detail::StreamState;

// The one-byte tag in front of every record. Part of the format: never renumber.
enum class Tag : uint8_t {
  kClock = 1,
  kEntropy = 2,
  kTimer = 3,
  kNet = 4,
  kIrq = 5,
  kOutput = 6,
  kDigest = 7,
  kEnd = 8,
};
constexpr uint8_t kLastTag = 8;
static_assert(std::variant_size_v<RecordBody> == kLastTag, "a new record type needs a tag");

// The encoder writes RecordBody's index + 1 as the tag; pin that order to the tags above.
template <Tag tag, class Body>
constexpr bool kTagIs =
    std::is_same_v<std::variant_alternative_t<static_cast<size_t>(tag) - 1, RecordBody>, Body>;
static_assert(kTagIs<Tag::kClock, ClockRead> && kTagIs<Tag::kEntropy, EntropyRead> &&
              kTagIs<Tag::kTimer, TimerFired> && kTagIs<Tag::kNet, NetInput> &&
              kTagIs<Tag::kIrq, InterruptTaken> && kTagIs<Tag::kOutput, Output> &&
              kTagIs<Tag::kDigest, StateDigest> && kTagIs<Tag::kEnd, RunEnd>);

constexpr uint8_t kHeaderHasUdp = 1;
constexpr uint8_t kHeaderHasTcp = 2;
constexpr uint8_t kHeaderHasFrames = 4;  // the frame NIC's settings follow the flags
// The frame NIC's MTU: IPv4's minimum (RFC 791) to a jumbo frame's payload.
constexpr uint32_t kMinMtu = 68;
constexpr uint32_t kMaxMtu = 9000;

using DigestWords = std::array<uint64_t, StreamState::kDigestWords>;

// The enums' values are contiguous from their first to their last enumerator.
template <class Enum>
bool in_range(uint8_t v, Enum first, Enum last) {
  return v >= static_cast<uint8_t>(first) && v <= static_cast<uint8_t>(last);
}
bool valid_clock_source(uint8_t v) {
  return in_range(v, ClockSource::kWall, ClockSource::kCsrCycle);
}
bool valid_output_kind(uint8_t v) { return in_range(v, OutputKind::kConsole, OutputKind::kFrame); }
bool valid_end_reason(uint8_t v) {
  return in_range(v, RunEnd::Reason::kExited, RunEnd::Reason::kStopped);
}

std::string record_label(uint64_t number) { return "record #" + std::to_string(number); }

DigestWords words_of(const StateDigest& d) {
  DigestWords words{};
  auto out = std::copy(d.regs.begin(), d.regs.end(), words.begin());
  out = std::copy(d.csrs.begin(), d.csrs.end(), out);
  *out = d.devices;
  return words;
}

void set_digest_words(StateDigest& d, const DigestWords& words) {
  std::copy_n(words.begin(), d.regs.size(), d.regs.begin());
  std::copy_n(words.begin() + d.regs.size(), d.csrs.size(), d.csrs.begin());
  d.devices = words.back();
}

// ---- encoding ----

// Throws for what a decoder would reject, before anything is appended.
void check_encodable(const Record& record) {
  auto refuse = [&](const std::string& what) {
    throw LogError("cannot encode record #" + std::to_string(record.seq) + ": " + what);
  };
  if (const auto* c = std::get_if<ClockRead>(&record.body)) {
    if (!valid_clock_source(static_cast<uint8_t>(c->source))) refuse("unknown clock source");
  } else if (const auto* n = std::get_if<NetInput>(&record.body)) {
    if (!is_net_kind(n->kind)) refuse("unknown net event kind " + std::to_string(n->kind));
    if (n->data.size() > kMaxPayloadBytes) refuse("payload over 16 MiB");
  } else if (const auto* o = std::get_if<Output>(&record.body)) {
    if (!valid_output_kind(static_cast<uint8_t>(o->kind))) refuse("unknown output kind");
    if (o->data.size() > kMaxPayloadBytes) refuse("payload over 16 MiB");
  } else if (const auto* d = std::get_if<StateDigest>(&record.body)) {
    if (d->ram_chunks.size() > kMaxRamChunks) refuse("more than 1<<20 RAM chunks");
  } else if (const auto* e = std::get_if<RunEnd>(&record.body)) {
    if (!valid_end_reason(static_cast<uint8_t>(e->reason))) refuse("unknown end reason");
  }
}

// A bit mask of the words that differ from the previous digest's, then those words.
void encode_digest_words(const DigestWords& words, const DigestWords& previous, ByteWriter& w) {
  uint64_t changed = 0;
  for (size_t i = 0; i < words.size(); ++i) {
    if (words[i] != previous[i]) changed |= uint64_t{1} << i;
  }
  w.varint(changed);
  for (size_t i = 0; i < words.size(); ++i) {
    if (changed & (uint64_t{1} << i)) w.fixed64(words[i]);
  }
}

// The hash of a chunk of zeros: what a chunk the previous digest did not cover is compared
// with, so that the first digest of a mostly untouched RAM is small too.
uint64_t zero_chunk_hash() {
  static const uint64_t hash = [] {
    const std::vector<uint8_t> zeros(StateDigest::kDigestChunkBytes);
    return XXH3_64bits(zeros.data(), zeros.size());
  }();
  return hash;
}

uint64_t previous_chunk(const std::vector<uint64_t>& previous, size_t i) {
  return i < previous.size() ? previous[i] : zero_chunk_hash();
}

// The chunk count, then (unchanged run length, changed run length, changed hashes) until
// every chunk is covered: an idle guest's RAM barely changes between digests.
void encode_ram_chunks(const std::vector<uint64_t>& chunks, const std::vector<uint64_t>& previous,
                       ByteWriter& w) {
  auto unchanged = [&](size_t i) { return chunks[i] == previous_chunk(previous, i); };
  w.varint(chunks.size());
  size_t i = 0;
  while (i < chunks.size()) {
    const size_t same_start = i;
    while (i < chunks.size() && unchanged(i)) ++i;
    const size_t changed_start = i;
    while (i < chunks.size() && !unchanged(i)) ++i;
    w.varint(changed_start - same_start);
    w.varint(i - changed_start);
    for (size_t j = changed_start; j < i; ++j) w.fixed64(chunks[j]);
  }
}

void encode_payload(const std::vector<uint8_t>& data, ByteWriter& w) {
  w.varint(data.size());
  w.bytes(data);
}

struct BodyEncoder {
  ByteWriter& w;
  const StreamState& s;

  void operator()(const ClockRead& c) const {
    const auto source = static_cast<uint8_t>(c.source);
    w.u8(source);
    w.varint(detail::zigzag_delta(c.value, s.clock[source - 1]));
  }
  void operator()(const EntropyRead& e) const { w.fixed64(e.value); }
  void operator()(const TimerFired& t) const {
    w.varint(detail::zigzag_delta(t.generation, s.timer_generation));
  }
  void operator()(const NetInput& n) const {
    w.varint(n.kind);
    w.varint(n.conn);
    w.fixed32(n.peer_ip);
    w.varint(n.peer_port);
    encode_payload(n.data, w);
  }
  void operator()(const InterruptTaken& i) const {
    w.varint(i.cause);
    w.varint(detail::zigzag_delta(i.pc, s.irq_pc));
  }
  void operator()(const Output& o) const {
    w.u8(static_cast<uint8_t>(o.kind));
    w.varint(o.conn);
    w.fixed32(o.peer_ip);
    w.varint(o.peer_port);
    encode_payload(o.data, w);
  }
  void operator()(const StateDigest& d) const {
    encode_digest_words(words_of(d), s.digest_words, w);
    encode_ram_chunks(d.ram_chunks, s.ram_chunks, w);
  }
  void operator()(const RunEnd& e) const {
    w.u8(static_cast<uint8_t>(e.reason));
    w.varint(detail::zigzag(e.exit_code));
  }
};

// ---- decoding ----

ClockRead decode_clock(ByteReader& r, const StreamState& s) {
  const size_t pos = r.position();
  const uint8_t source = r.u8();
  if (!valid_clock_source(source)) r.fail_at(pos, "unknown clock source " + std::to_string(source));
  const uint64_t value = detail::apply_zigzag_delta(s.clock[source - 1], r.varint());
  return {static_cast<ClockSource>(source), value};
}

NetInput decode_net(ByteReader& r) {
  NetInput n;
  const size_t pos = r.position();
  n.kind = r.varint32();
  if (!is_net_kind(n.kind)) r.fail_at(pos, "unknown net event kind " + std::to_string(n.kind));
  n.conn = r.varint32();
  n.peer_ip = r.fixed32();
  n.peer_port = r.varint32();
  const auto data = r.sized_bytes(kMaxPayloadBytes, "payload");
  n.data.assign(data.begin(), data.end());
  return n;
}

InterruptTaken decode_irq(ByteReader& r, const StreamState& s) {
  InterruptTaken i;
  i.cause = r.varint32();
  i.pc = detail::apply_zigzag_delta(s.irq_pc, r.varint());
  return i;
}

Output decode_output(ByteReader& r) {
  Output o;
  const size_t pos = r.position();
  const uint8_t kind = r.u8();
  if (!valid_output_kind(kind)) r.fail_at(pos, "unknown output kind " + std::to_string(kind));
  o.kind = static_cast<OutputKind>(kind);
  o.conn = r.varint32();
  o.peer_ip = r.fixed32();
  o.peer_port = r.varint32();
  const auto data = r.sized_bytes(kMaxPayloadBytes, "payload");
  o.data.assign(data.begin(), data.end());
  return o;
}

DigestWords decode_digest_words(ByteReader& r, const DigestWords& previous) {
  const size_t pos = r.position();
  const uint64_t changed = r.varint();
  if (changed >> previous.size()) r.fail_at(pos, "digest mask names unknown words");
  DigestWords words = previous;
  for (size_t i = 0; i < words.size(); ++i) {
    if (changed & (uint64_t{1} << i)) words[i] = r.fixed64();
  }
  return words;
}

std::vector<uint64_t> decode_ram_chunks(ByteReader& r, const std::vector<uint64_t>& previous) {
  const uint64_t count = r.bounded(kMaxRamChunks, "RAM chunk count");
  std::vector<uint64_t> chunks;
  chunks.reserve(count);
  while (chunks.size() < count) {
    const size_t pos = r.position();
    const uint64_t same = r.varint();
    const uint64_t changed = r.varint();
    const uint64_t left = count - chunks.size();
    if (same + changed == 0 || same > left || changed > left - same) {
      r.fail_at(pos, "RAM chunk runs do not add up to " + std::to_string(count));
    }
    for (uint64_t j = 0; j < same; ++j) chunks.push_back(previous_chunk(previous, chunks.size()));
    for (uint64_t j = 0; j < changed; ++j) chunks.push_back(r.fixed64());
  }
  return chunks;
}

StateDigest decode_digest(ByteReader& r, const StreamState& s) {
  StateDigest d;
  set_digest_words(d, decode_digest_words(r, s.digest_words));
  d.ram_chunks = decode_ram_chunks(r, s.ram_chunks);
  return d;
}

RunEnd decode_end(ByteReader& r) {
  const size_t pos = r.position();
  const uint8_t reason = r.u8();
  if (!valid_end_reason(reason)) r.fail_at(pos, "unknown end reason " + std::to_string(reason));
  const size_t code_pos = r.position();
  const int64_t code = detail::unzigzag(r.varint());
  if (code < INT32_MIN || code > INT32_MAX) r.fail_at(code_pos, "exit code does not fit 32 bits");
  return {static_cast<RunEnd::Reason>(reason), static_cast<int32_t>(code)};
}

RecordBody decode_body(Tag tag, ByteReader& r, const StreamState& s) {
  switch (tag) {
    case Tag::kClock: return decode_clock(r, s);
    case Tag::kEntropy: return EntropyRead{r.fixed64()};
    case Tag::kTimer: return TimerFired{detail::apply_zigzag_delta(s.timer_generation, r.varint())};
    case Tag::kNet: return decode_net(r);
    case Tag::kIrq: return decode_irq(r, s);
    case Tag::kOutput: return decode_output(r);
    case Tag::kDigest: return decode_digest(r, s);
    case Tag::kEnd: return decode_end(r);
  }
  r.fail_at(0, "unknown record type");  // unreachable: the tag was checked
}

}  // namespace

namespace detail {

void StreamState::remember(const Record& record) {
  seq = record.seq;
  icount = record.icount;
  if (const auto* c = std::get_if<ClockRead>(&record.body)) {
    clock[static_cast<uint8_t>(c->source) - 1] = c->value;
  } else if (const auto* t = std::get_if<TimerFired>(&record.body)) {
    timer_generation = t->generation;
  } else if (const auto* i = std::get_if<InterruptTaken>(&record.body)) {
    irq_pc = i->pc;
  } else if (const auto* d = std::get_if<StateDigest>(&record.body)) {
    digest_words = words_of(*d);
    ram_chunks = d->ram_chunks;
  }
}

}  // namespace detail

void RecordEncoder::encode(const Record& record, std::vector<uint8_t>& out) {
  check_encodable(record);
  ByteWriter w(out);
  w.u8(static_cast<uint8_t>(record.body.index() + 1));  // Tag order follows RecordBody's
  w.varint(record.seq - state_.seq);
  w.varint(record.icount - state_.icount);
  std::visit(BodyEncoder{w, state_}, record.body);
  state_.remember(record);
}

DecodedRecord RecordDecoder::decode(std::span<const uint8_t> bytes, uint64_t stream_offset) {
  ByteReader r(bytes, stream_offset, record_label(next_record_number()));
  const uint8_t tag = r.u8();
  if (tag == 0 || tag > kLastTag) r.fail_at(0, "unknown record type tag " + detail::hex(tag));
  Record record;
  record.seq = state_.seq + r.varint();
  record.icount = state_.icount + r.varint();
  record.body = decode_body(static_cast<Tag>(tag), r, state_);
  state_.remember(record);
  return {std::move(record), r.position()};
}

void encode_header(const LogHeader& header, std::vector<uint8_t>& out) {
  if (header.guest_name.size() > kMaxGuestNameBytes) {
    throw LogError("cannot encode the log header: guest name longer than 4096 bytes");
  }
  if (header.digest_interval == 0) {
    throw LogError("cannot encode the log header: a digest interval of 0 instructions");
  }
  if (header.emulator.size() > kMaxEmulatorNameBytes) {
    throw LogError("cannot encode the log header: emulator name longer than 64 bytes");
  }
  ByteWriter w(out);
  w.fixed64(header.guest_digest);
  w.varint(header.ram_size);
  w.varint(header.digest_interval);
  w.u8((header.has_udp ? kHeaderHasUdp : 0) | (header.has_tcp ? kHeaderHasTcp : 0) |
       (header.frames ? kHeaderHasFrames : 0));
  if (const auto& f = header.frames) {
    w.varint(f->mac);
    w.varint(f->ip);
    w.u8(f->prefix_len);
    w.varint(f->gateway);
    w.varint(f->mtu);
  }
  w.varint(header.guest_name.size());
  w.bytes({reinterpret_cast<const uint8_t*>(header.guest_name.data()), header.guest_name.size()});
  w.varint(header.emulator.size());
  w.bytes({reinterpret_cast<const uint8_t*>(header.emulator.data()), header.emulator.size()});
}

namespace {

FrameNicConfig decode_frame_nic(ByteReader& r) {
  FrameNicConfig f;
  const size_t mac_pos = r.position();
  f.mac = r.varint();
  if (f.mac >> 48) r.fail_at(mac_pos, "a MAC address of more than 48 bits");
  const auto ipv4 = [&r](const char* what) {
    const size_t pos = r.position();
    const uint64_t v = r.varint();
    if (v >> 32) r.fail_at(pos, std::string("an IPv4 ") + what + " of more than 32 bits");
    return static_cast<uint32_t>(v);
  };
  f.ip = ipv4("address");
  const size_t prefix_pos = r.position();
  f.prefix_len = r.u8();
  if (f.prefix_len > 32) r.fail_at(prefix_pos, "a prefix length over 32");
  f.gateway = ipv4("gateway");
  const size_t mtu_pos = r.position();
  const uint64_t mtu = r.varint();
  if (mtu < kMinMtu || mtu > kMaxMtu) {
    r.fail_at(mtu_pos, "an MTU of " + std::to_string(mtu) + " (not from 68 to 9000)");
  }
  f.mtu = static_cast<uint32_t>(mtu);
  return f;
}

}  // namespace

LogHeader decode_header(std::span<const uint8_t> bytes, uint64_t stream_offset) {
  ByteReader r(bytes, stream_offset, "the header");
  LogHeader header;
  header.guest_digest = r.fixed64();
  header.ram_size = r.varint();
  const size_t interval_pos = r.position();
  header.digest_interval = r.varint();
  if (header.digest_interval == 0) r.fail_at(interval_pos, "digest interval of 0 instructions");
  const size_t flags_pos = r.position();
  const uint8_t flags = r.u8();
  if (flags & ~(kHeaderHasUdp | kHeaderHasTcp | kHeaderHasFrames)) {
    r.fail_at(flags_pos, "unknown header flags");
  }
  header.has_udp = flags & kHeaderHasUdp;
  header.has_tcp = flags & kHeaderHasTcp;
  if (flags & kHeaderHasFrames) header.frames = decode_frame_nic(r);
  const auto name = r.sized_bytes(kMaxGuestNameBytes, "guest name");
  header.guest_name.assign(name.begin(), name.end());
  const auto emulator = r.sized_bytes(kMaxEmulatorNameBytes, "emulator name");
  header.emulator.assign(emulator.begin(), emulator.end());
  if (r.remaining() != 0) {
    r.fail_at(r.position(), std::to_string(r.remaining()) + " unexpected bytes after the header");
  }
  return header;
}

}  // namespace vmft::logchannel
