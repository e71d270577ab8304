#pragma once
// The fuzz targets' entry functions: each feeds bytes to one decoder the way bytes from outside
// reach it. They return normally whatever the bytes, once the decoder has accepted them or
// refused them with its documented error. Anything else is a bug: a crash, a sanitizer report,
// any other exception, or a broken round trip (PropertyViolated). The same functions run under
// libFuzzer (LibFuzzerMain.cc, clang only) and in the gcc build's test of every kept input
// (KeptInputsTest.cc).

#include <cstdint>
#include <span>
#include <stdexcept>

namespace vmft::fuzz {

using Bytes = std::span<const uint8_t>;

/// A file handed to LogReader (the preamble, header and record frames). The harness repairs
/// every whole frame's checksum first, or mutated inputs would hardly get past it.
void log_file(Bytes data);
/// Records as they follow each other in a frame, to RecordDecoder; whatever decodes must
/// re-encode and decode to the same records.
void record_decoder(Bytes data);
/// What a logging channel peer sends: the first byte picks the side that receives (even: the
/// primary, which reads a hello, with a secret the proof after it, then acks; odd: the backup,
/// which reads with a secret a challenge, then the welcome or refusal, then epochs and batches),
/// the rest is frames (their checksums are not checked: a frame that fails it never reaches a
/// decoder). Proofs are checked against FuzzSupport.h's secret and nonces.
void channel(Bytes data);
/// What an arbiter client sends, split into lines: each goes to the server's answer_request
/// (against an in-memory arbiter), to its AUTH parser, and to the client's reply and CHALLENGE
/// parsers.
void arbiter_request(Bytes data);
/// A pair's stored state: a state file in the arbiter's data directory, or an etcd value.
void arbiter_state(Bytes data);
/// A guest ELF file, to parse_elf and then the counter rewriter, as `vmft run` loads a guest.
void elf_loader(Bytes data);
/// A machine snapshot, as a joining backup receives it from its primary.
void snapshot(Bytes data);
/// Ethernet frames, as a TAP device hands them to a guest's network stack (guest/net), with
/// time passing and the guest's own datagrams between them (NetFrameTarget.cc says how the
/// bytes split); every frame the stack sends must be well formed.
void net_frame(Bytes data);

struct Target {
  const char* name;  ///< the directory under fuzz/corpus and fuzz/regressions, and fuzz_<name>
  void (*run)(Bytes);
};

inline constexpr Target kTargets[] = {
    {"log_file", log_file},
    {"record_decoder", record_decoder},
    {"channel", channel},
    {"arbiter_request", arbiter_request},
    {"arbiter_state", arbiter_state},
    {"elf_loader", elf_loader},
    {"snapshot", snapshot},
    {"net_frame", net_frame},
};

/// A decoder accepted something it should not have, or a round trip changed it.
class PropertyViolated : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// Throws PropertyViolated with `what` unless `ok`.
inline void expect(bool ok, const char* what) {
  if (!ok) throw PropertyViolated(what);
}

/// Turns vmft's own logging off (the arbiter logs every decision), once per process.
void quiet_logs();

}  // namespace vmft::fuzz
