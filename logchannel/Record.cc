// Names and one-line descriptions of records, for `vmft log show` and for messages.
#include "vmft/logchannel/Record.h"

#include <xxhash.h>

#include <cstdio>

#include "vmft/guest/abi.h"
#include "vmft/logchannel/ByteIo.h"

namespace vmft::logchannel {

namespace {

constexpr size_t kPreviewBytes = 32;

std::string hex16(uint64_t value) {
  char text[17];
  std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(value));
  return text;
}

// The first bytes of a payload as a quoted C-style string, so any bytes print on one line.
std::string preview(const std::vector<uint8_t>& data) {
  std::string out = "\"";
  for (size_t i = 0; i < data.size() && i < kPreviewBytes; ++i) {
    const uint8_t c = data[i];
    switch (c) {
      case '\r': out += "\\r"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      default:
        if (c >= 0x20 && c < 0x7f) {
          out += static_cast<char>(c);
        } else {
          char esc[5];
          std::snprintf(esc, sizeof esc, "\\x%02x", c);
          out += esc;
        }
    }
  }
  return out + (data.size() > kPreviewBytes ? "\"..." : "\"");
}

std::string ipv4(uint32_t ip, uint32_t port) {
  char text[32];
  std::snprintf(text, sizeof text, "%u.%u.%u.%u:%u", ip >> 24, (ip >> 16) & 0xff, (ip >> 8) & 0xff,
                ip & 0xff, port);
  return text;
}

std::string payload_text(const std::vector<uint8_t>& data) {
  std::string out = " len=" + std::to_string(data.size());
  if (!data.empty()) out += " " + preview(data);
  return out;
}

std::string clock_source_name(ClockSource source) {
  switch (source) {
    case ClockSource::kWall: return "wall";
    case ClockSource::kMono: return "mono";
    case ClockSource::kCsrTime: return "time";
    case ClockSource::kCsrCycle: return "cycle";
  }
  return "source" + std::to_string(static_cast<int>(source));
}

std::string net_kind_name(uint32_t kind) {
  switch (kind) {
    case VMFT_NIC_KIND_UDP: return "udp";
    case VMFT_NIC_KIND_TCP_OPEN: return "tcp-open";
    case VMFT_NIC_KIND_TCP_DATA: return "tcp-data";
    case VMFT_NIC_KIND_TCP_CLOSE: return "tcp-close";
    case VMFT_NIC_KIND_FRAME: return "frame";
    case VMFT_NIC_KIND_LINK: return "link";
  }
  return "kind" + std::to_string(kind);
}

std::string output_kind_name(OutputKind kind) {
  switch (kind) {
    case OutputKind::kConsole: return "console";
    case OutputKind::kUdp: return "udp";
    case OutputKind::kTcpData: return "tcp-data";
    case OutputKind::kTcpClose: return "tcp-close";
    case OutputKind::kFrame: return "frame";
  }
  return "kind" + std::to_string(static_cast<int>(kind));
}

std::string end_reason_name(RunEnd::Reason reason) {
  switch (reason) {
    case RunEnd::Reason::kExited: return "exited";
    case RunEnd::Reason::kFaulted: return "faulted";
    case RunEnd::Reason::kStopped: return "stopped";
  }
  return "reason" + std::to_string(static_cast<int>(reason));
}

// One hash standing for all of RAM, so a digest fits on a line; over the chunk hashes'
// little-endian bytes, so it is the same on every host.
uint64_t ram_hash(const std::vector<uint64_t>& chunks) {
  std::vector<uint8_t> bytes;
  bytes.reserve(chunks.size() * 8);
  for (uint64_t chunk : chunks) {
    for (int i = 0; i < 8; ++i) bytes.push_back(static_cast<uint8_t>(chunk >> (8 * i)));
  }
  return XXH64(bytes.data(), bytes.size(), 0);
}

struct BodyDescriber {
  std::string operator()(const ClockRead& c) const {
    return clock_source_name(c.source) + "=" + std::to_string(c.value);
  }
  std::string operator()(const EntropyRead& e) const { return "value=" + detail::hex(e.value); }
  std::string operator()(const TimerFired& t) const {
    return "generation=" + std::to_string(t.generation);
  }
  std::string operator()(const NetInput& n) const {
    std::string out = net_kind_name(n.kind);
    if (n.kind == VMFT_NIC_KIND_FRAME) return out + payload_text(n.data);
    if (n.kind == VMFT_NIC_KIND_LINK) return out;
    if (n.kind != VMFT_NIC_KIND_UDP) out += " conn=" + std::to_string(n.conn);
    // TCP data and close events name only their connection; the peer came with its open.
    const bool names_peer = n.kind == VMFT_NIC_KIND_UDP || n.kind == VMFT_NIC_KIND_TCP_OPEN;
    if (names_peer || n.peer_ip != 0) out += " peer=" + ipv4(n.peer_ip, n.peer_port);
    if (n.kind == VMFT_NIC_KIND_UDP || !n.data.empty()) out += payload_text(n.data);
    return out;
  }
  std::string operator()(const InterruptTaken& i) const {
    return "cause=" + std::to_string(i.cause) + " pc=" + detail::hex(i.pc);
  }
  std::string operator()(const Output& o) const {
    std::string out = output_kind_name(o.kind);
    if (o.kind == OutputKind::kUdp) out += " peer=" + ipv4(o.peer_ip, o.peer_port);
    if (o.kind == OutputKind::kTcpData || o.kind == OutputKind::kTcpClose) {
      out += " conn=" + std::to_string(o.conn);
    }
    if (o.kind != OutputKind::kTcpClose) out += payload_text(o.data);
    return out;
  }
  std::string operator()(const StateDigest& d) const {
    return "pc=" + detail::hex(d.regs[0]) + " ram=" + hex16(ram_hash(d.ram_chunks)) +
           " chunks=" + std::to_string(d.ram_chunks.size()) + " devices=" + hex16(d.devices);
  }
  std::string operator()(const RunEnd& e) const {
    std::string out = end_reason_name(e.reason);
    if (e.reason == RunEnd::Reason::kExited) out += " code=" + std::to_string(e.exit_code);
    return out;
  }
};

}  // namespace

const char* record_type_name(const RecordBody& body) {
  static constexpr const char* kNames[] = {"clock", "entropy", "timer",  "net",
                                           "irq",   "output",  "digest", "end"};
  static_assert(std::size(kNames) == std::variant_size_v<RecordBody>);
  return kNames[body.index()];
}

std::string describe_body(const RecordBody& body) { return std::visit(BodyDescriber{}, body); }

std::string describe(const Record& record) {
  return "#" + std::to_string(record.seq) + " @" + std::to_string(record.icount) + " " +
         record_type_name(record.body) + " " + describe_body(record.body);
}

}  // namespace vmft::logchannel
