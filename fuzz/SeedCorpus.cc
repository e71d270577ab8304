// vmft_fuzz_seeds FUZZ_DIR GUEST_DIR: writes the seed corpora, FUZZ_DIR/corpus/<target>/*, from
// vmft's own encoders (and two test guests from GUEST_DIR), so that fuzzing starts from inputs
// that pass every check. Run it again after a change to a format, and commit what changes.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "FrameBuilders.h"
#include "FuzzSupport.h"
#include "Messages.h"
#include "Protocol.h"
#include "StateFile.h"
#include "vmft/guest/abi.h"
#include "vmft/hypervisor/Snapshot.h"
#include "vmft/logchannel/Frame.h"
#include "vmft/logchannel/LogFile.h"
#include "vnet.h"

namespace vmft::fuzz {
namespace {

namespace fs = std::filesystem;
using namespace vmft::logchannel;

void write_file(const fs::path& path, const std::vector<uint8_t>& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()),
            static_cast<std::streamsize>(bytes.size()));
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

void write_text(const fs::path& path, const std::vector<std::string>& lines) {
  std::string text;
  for (const std::string& line : lines) text += line + "\n";
  write_file(path, {text.begin(), text.end()});
}

std::vector<uint8_t> bytes_of(const std::string& text) { return {text.begin(), text.end()}; }

// One record of every type, then an idle guest's timer ticks and a second digest (deltas).
std::vector<Record> sample_records() {
  StateDigest digest;
  for (size_t i = 0; i < digest.regs.size(); ++i) digest.regs[i] = 0x80000000 + i * 0x1111;
  digest.csrs = {0x1888, 0x880, 0x80000010, 0x80000124, 0x8000000000000007, 0};
  digest.devices = 0xfeedface12345678;
  digest.ram_chunks = {1, 2, 3, 0xffffffffffffffff, 5};
  const RecordBody bodies[] = {
      ClockRead{ClockSource::kMono, 1234567},
      EntropyRead{0x0123456789abcdef},
      TimerFired{1},
      NetInput{VMFT_NIC_KIND_TCP_DATA, 3, 0x7f000001, 5555, bytes_of("INCR hits\r\n")},
      InterruptTaken{VMFT_IRQ_NIC, 0x80000124},
      Output{OutputKind::kUdp, 0, 0x7f000001, 6380, bytes_of("+PONG\r\n")},
      digest,
      ClockRead{ClockSource::kCsrCycle, 99},
      TimerFired{2},
      InterruptTaken{VMFT_IRQ_TIMER, 0x80000100},
      ClockRead{ClockSource::kMono, 11234567},
      Output{OutputKind::kTcpClose, 3, 0, 0, {}},
  };
  std::vector<Record> records;
  uint64_t icount = 4000;
  for (const RecordBody& body : bodies) {
    records.push_back({records.size() + 1, icount, body});
    icount += 250;
  }
  digest.regs[0] += 64;
  digest.ram_chunks[1] = 7;
  digest.ram_chunks.push_back(9);
  records.push_back({records.size() + 1, icount, digest});
  records.push_back({records.size() + 1, icount + 10, RunEnd{RunEnd::Reason::kExited, 3}});
  return records;
}

std::vector<uint8_t> encode_all(const std::vector<Record>& records) {
  RecordEncoder encoder;
  std::vector<uint8_t> bytes;
  for (const Record& record : records) encoder.encode(record, bytes);
  return bytes;
}

void log_file_seeds(const fs::path& dir) {
  const LogHeader header = channel_primary_config().header;
  fs::create_directories(dir);
  LogWriter(dir / "header_only.log", header).close();
  LogWriter writer(dir / "sample_records.log", header);
  for (const Record& record : sample_records()) writer.append(record);
  writer.close();
}

void record_decoder_seeds(const fs::path& dir) {
  write_file(dir / "sample_records.bin", encode_all(sample_records()));
}

std::vector<uint8_t> frame(const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> out;
  append_frame(payload, out);
  return out;
}

void append(std::vector<uint8_t>& to, const std::vector<uint8_t>& bytes) {
  to.insert(to.end(), bytes.begin(), bytes.end());
}

void channel_seeds(const fs::path& dir) {
  using namespace channel::detail;
  const channel::ChannelConfig config = channel_primary_config();
  const std::vector<uint8_t> hello = encode_hello(kHello, config.pair, config.id, config.header);
  const std::vector<uint8_t> ack = encode_ack({3, 12345});
  std::vector<uint8_t> to_primary{0};
  append(to_primary, frame(hello));
  append(to_primary, frame(ack));
  write_file(dir / "to_primary_hello_ack.bin", to_primary);

  const std::vector<uint8_t> welcome = encode_welcome(std::nullopt);
  const std::vector<uint8_t> epoch = encode_epoch(7);
  const std::vector<uint8_t> batch = encode_batch(9000, encode_all(sample_records()));
  const std::vector<uint8_t> heartbeat = encode_batch(9500, {});
  std::vector<uint8_t> to_backup{1};
  append(to_backup, frame(welcome));
  append(to_backup, frame(epoch));
  append(to_backup, frame(batch));
  append(to_backup, frame(heartbeat));
  write_file(dir / "to_backup_welcome_epoch_batch.bin", to_backup);

  std::vector<uint8_t> to_backup_released{1};
  append(to_backup_released, frame(welcome));
  append(to_backup_released, frame(batch));
  append(to_backup_released, frame(encode_released(3)));
  append(to_backup_released, frame(heartbeat));
  write_file(dir / "to_backup_welcome_batch_released.bin", to_backup_released);

  // The same with a secret (FuzzSupport.h's): the proof after the hello, the challenge before
  // the welcome, which carries the primary's MAC.
  const std::vector<uint8_t> proof = encode_proof(
      {kFuzzBackupNonce, backup_proof(kFuzzSecret, kFuzzPrimaryNonce, kFuzzBackupNonce, hello)});
  std::vector<uint8_t> to_primary_with_secret{0};
  append(to_primary_with_secret, frame(hello));
  append(to_primary_with_secret, frame(proof));
  append(to_primary_with_secret, frame(ack));
  write_file(dir / "to_primary_hello_proof_ack.bin", to_primary_with_secret);

  std::vector<uint8_t> to_backup_with_secret{1};
  append(to_backup_with_secret, frame(encode_challenge(kFuzzPrimaryNonce)));
  append(to_backup_with_secret,
         frame(encode_welcome(primary_proof(kFuzzSecret, kFuzzBackupNonce))));
  append(to_backup_with_secret, frame(epoch));
  append(to_backup_with_secret, frame(batch));
  write_file(dir / "to_backup_challenge_welcome_epoch_batch.bin", to_backup_with_secret);

  std::vector<uint8_t> refused{1};
  append(refused, frame(encode_refuse(
                      channel::pairing_mismatch("fuzz", config.header, "other", config.header))));
  write_file(dir / "to_backup_refused.bin", refused);

  // A backup that joins: its join, acks, the epoch's acknowledgement and its goodbye; and what
  // it reads, RAM and the snapshot before the log.
  std::vector<uint8_t> to_primary_joining{0};
  append(to_primary_joining, frame(encode_hello(kJoin, config.pair, config.id, config.header)));
  append(to_primary_joining, frame(ack));
  append(to_primary_joining, frame(encode_epoch_ack(7)));
  append(to_primary_joining, frame(encode_goodbye()));
  write_file(dir / "to_primary_join_ack_epoch_ack_goodbye.bin", to_primary_joining);

  const std::vector<uint8_t> ram(4096, 0x5a), snapshot(64, 0x11);
  std::vector<uint8_t> to_joining_backup{1};
  append(to_joining_backup, frame(welcome));
  append(to_joining_backup, frame(encode_ram({1u << 20, ram})));
  append(to_joining_backup, frame(encode_snapshot_start({0, 8000, snapshot})));
  append(to_joining_backup, frame(batch));
  write_file(dir / "to_backup_welcome_ram_snapshot_batch.bin", to_joining_backup);
}

void arbiter_request_seeds(const fs::path& dir) {
  using arbiter::detail::format_reply;
  using arbiter::detail::format_request;
  using arbiter::detail::Request;
  using Op = Request::Op;
  write_text(dir / "requests.txt", {format_request({Op::kRegister, "demo", 0, "primary-1"}),
                                    format_request({Op::kRead, "demo", 0, ""}),
                                    format_request({Op::kTestAndSet, "demo", 1, "backup-1"}),
                                    format_request({Op::kTestAndSet, "demo", 1, "primary-1"}),
                                    format_request({Op::kRegister, "demo", 1, "backup-1"}),
                                    format_request({Op::kRelease, "demo", 1, "backup-1"}),
                                    format_request({Op::kList, "", 0, ""})});
  using arbiter::ArbiterState;
  using arbiter::Mode;
  const ArbiterState paired{1, Mode::kPaired, "primary-1"}, alone{2, Mode::kAlone, "backup-1"};
  write_text(dir / "replies.txt",
             {format_reply(ArbiterState{}), format_reply(paired),
              format_reply(arbiter::RegisterResult{true, paired}),
              format_reply(arbiter::RegisterResult{false, alone}),
              format_reply(arbiter::TasResult{true, alone}),
              format_reply(arbiter::TasResult{false, alone}),
              format_reply(arbiter::ReleaseResult{true, {2, Mode::kReleased, ""}}),
              format_reply(arbiter::ReleaseResult{false, alone}),
              format_reply(arbiter::Arbiter::PairList{{"demo", "other"}, 3}),
              arbiter::detail::format_error("TAS for epoch 9, which pair 'demo' never had")});
}

// A client's side of the handshake with a secret (FuzzSupport.h's), then its first request.
void arbiter_auth_seeds(const fs::path& dir) {
  using namespace arbiter::detail;
  write_text(dir / "auth.txt",
             {format_challenge(kFuzzPrimaryNonce),
              format_auth_request(client_proof(kFuzzSecret, kFuzzPrimaryNonce), kFuzzBackupNonce),
              "OK " + auth::to_hex(server_proof(kFuzzSecret, kFuzzBackupNonce)),
              format_request({Request::Op::kRead, "demo", 0, ""})});
}

void arbiter_state_seeds(const fs::path& dir) {
  const std::pair<const char*, arbiter::ArbiterState> states[] = {
      {"paired.state", {1, arbiter::Mode::kPaired, "primary-1"}},
      {"alone.state", {2, arbiter::Mode::kAlone, "backup-1"}},
      {"released.state", {3, arbiter::Mode::kReleased, ""}}};
  for (const auto& [name, state] : states) {
    const std::string text = arbiter::detail::encode_state(state);
    write_file(dir / name, {text.begin(), text.end()});
  }
}

// Small assembly guests without the SDK: a few KiB each, yet real images.
void elf_loader_seeds(const fs::path& dir, const fs::path& guests) {
  fs::create_directories(dir);
  for (const char* name : {"count.elf", "irq_count.elf"}) {
    fs::copy_file(guests / name, dir / name, fs::copy_options::overwrite_existing);
    fs::permissions(dir / name, fs::perms::owner_read | fs::perms::owner_write |
                                    fs::perms::group_read | fs::perms::others_read);
  }
}

// A small machine's snapshot with RAM (one page zero, one not) and one without.
void snapshot_seeds(const fs::path& dir) {
  hypervisor::MachineSnapshot snapshot;
  snapshot.image_digest = 0x0123456789abcdef;
  snapshot.ram_base = 0x80000000;
  snapshot.ram_size = 2 * hypervisor::kSnapshotPageBytes;
  snapshot.digest_interval = 1u << 28;
  snapshot.icount = 123456;
  snapshot.cpu.pc = 0x80000100;
  snapshot.cpu.x[2] = 0x80001ff0;
  snapshot.nic.open_conns = {3, 7};
  snapshot.nic.queue.push_back({VMFT_NIC_KIND_TCP_OPEN, 9, 0x7f000001, 4000, {}});
  snapshot.mmio.resize(5);
  snapshot.ram.assign(snapshot.ram_size, 0);
  std::fill(snapshot.ram.begin() + hypervisor::kSnapshotPageBytes, snapshot.ram.end(), 0x5a);
  write_file(dir / "with_ram.snapshot", hypervisor::encode_snapshot(snapshot));
  snapshot.ram.clear();
  write_file(dir / "without_ram.snapshot", hypervisor::encode_snapshot(snapshot));
}

// Records for the net_frame target (NetFrameTarget.cc): an op byte, a 16-bit length, bytes.
void append_net_record(std::vector<uint8_t>& to, uint8_t op, const std::vector<uint8_t>& bytes) {
  to.push_back(op);
  to.push_back(uint8_t(bytes.size() >> 8));
  to.push_back(uint8_t(bytes.size()));
  append(to, bytes);
}

// The ISN the net_frame target's stack picks for a peer's SYN from sport at time 0 (its
// tcp_secret is all zeros): the stack itself says, so that the seeds' ACKs are right.
uint32_t net_frame_isn(uint16_t sport) {
  namespace nt = vmft::net_test;
  struct Catch {
    uint32_t seq = 0;
  } caught;
  std::vector<vnet_tcp_conn> conns(nt::kTcpConns);
  vnet net{};
  const vnet_config config = nt::with_tcp(nt::default_config(), conns.data());
  const vnet_driver driver{&caught, [](void* ctx, const uint8_t* f, size_t len) {
                             if (len >= nt::kL4Off + 8)
                               static_cast<Catch*>(ctx)->seq =
                                   nt::get32(nt::Frame(f, f + len), nt::kL4Off + 4);
                           }};
  vnet_init(&net, &config, &driver);
  vnet_tcp_listen(&net, 80, 1);
  const auto peer_asks = nt::arp_request_frame(nt::kPeerMac, nt::kPeerIp, nt::kOurIp);
  vnet_input(&net, peer_asks.data(), peer_asks.size(), 0);  // or the SYN-ACK waits for ARP
  const auto syn = nt::tcp_frame(nt::kPeerIp, sport, 80, 1000, 0, nt::kSyn, 8192);
  vnet_input(&net, syn.data(), syn.size(), 0);
  return caught.seq;
}

// TCP conversations with the target's echo server on port 80: an echo and both closes, data
// out of order with retransmissions, a SYN flood past the backlog, a zero window with probes
// and the guest's own calls (listen, connect, write, close), and a closed port's RST.
void net_frame_tcp_seeds(const fs::path& dir) {
  namespace nt = vmft::net_test;
  constexpr uint8_t kFrame = 0, kPoll1s = 2 + 4 * 10, kPoll300ms = 2 + 4 * 3;
  constexpr uint8_t kListen = 1, kWriteSock0 = 1 + 4 * 2, kCloseSock1 = 1 + 4 * 5 + 32,
                    kConnectPeer = 1 + 4 * 7;
  constexpr uint16_t kSport = 40000;
  constexpr uint32_t kPeerIsn = 1000;
  const auto peer_asks = nt::arp_request_frame(nt::kPeerMac, nt::kPeerIp, nt::kOurIp);
  const uint32_t isn = net_frame_isn(kSport);
  auto from_peer = [&](uint32_t seq_off, uint32_t ack_off, uint8_t flags,
                       const std::string& data = "", uint16_t window = 8192) {
    return nt::tcp_frame(nt::kPeerIp, kSport, 80, kPeerIsn + seq_off, isn + ack_off, flags, window,
                         bytes_of(data));
  };
  auto handshake = [&](std::vector<uint8_t>& to, uint16_t window = 8192) {
    append_net_record(to, kFrame, peer_asks);
    append_net_record(to, kFrame,
                      nt::tcp_frame(nt::kPeerIp, kSport, 80, kPeerIsn, 0, nt::kSyn, window, {},
                                    nt::mss_option(1460)));
    append_net_record(to, kFrame, from_peer(1, 1, nt::kAck, "", window));
  };

  std::vector<uint8_t> echo;
  handshake(echo);
  append_net_record(echo, kFrame, from_peer(1, 1, nt::kAck | nt::kPsh, "echo me"));
  append_net_record(echo, kFrame, from_peer(8, 8, nt::kAck | nt::kFin));  // acks the echo
  append_net_record(echo, kFrame, from_peer(9, 9, nt::kAck));             // acks our FIN
  write_file(dir / "tcp_echo_and_close.bin", echo);

  std::vector<uint8_t> reordered;
  handshake(reordered);
  append_net_record(reordered, kFrame, from_peer(6, 1, nt::kAck, "world"));
  append_net_record(reordered, kFrame, from_peer(1, 1, nt::kAck, "hello"));
  append_net_record(reordered, kFrame, from_peer(1, 1, nt::kAck, "hello"));  // a duplicate
  append_net_record(reordered, kPoll300ms, {});  // the echo, unacknowledged, goes again
  append_net_record(reordered, kPoll1s, {});
  append_net_record(reordered, kFrame, from_peer(11, 1, nt::kRst));
  write_file(dir / "tcp_out_of_order_and_retransmit.bin", reordered);

  std::vector<uint8_t> flood;
  append_net_record(flood, kFrame, peer_asks);
  for (uint16_t i = 0; i < 6; i++) {
    append_net_record(
        flood, kFrame,
        nt::tcp_frame(nt::kPeerIp, uint16_t(50000 + i), 80, 7000u * i, 0, nt::kSyn, 8192));
  }
  for (int i = 0; i < 3; i++) append_net_record(flood, kPoll1s, {});
  write_file(dir / "tcp_syn_flood.bin", flood);

  std::vector<uint8_t> calls;
  handshake(calls, 0);  // the peer's window is shut
  append_net_record(calls, kWriteSock0, bytes_of("waits for a window"));
  append_net_record(calls, kPoll1s, {});  // a probe
  append_net_record(calls, kFrame, from_peer(1, 1, nt::kAck, "", 4096));
  append_net_record(calls, kListen, {0x1f, 0x90, 2});                // port 8080
  append_net_record(calls, kConnectPeer, {0x00, 0x09, 0xc3, 0x50});  // to port 9, from 50000
  append_net_record(calls, kCloseSock1, {});
  write_file(dir / "tcp_zero_window_and_calls.bin", calls);

  std::vector<uint8_t> closed;
  append_net_record(closed, kFrame, peer_asks);
  append_net_record(closed, kFrame,
                    nt::tcp_frame(nt::kPeerIp, kSport, 81, kPeerIsn, 0, nt::kSyn, 8192));
  write_file(dir / "tcp_closed_port.bin", closed);
}

// Conversations the stack answers: ARP then ping, a UDP echo, a send held until the peer's ARP
// reply, a send whose next hop never answers, broadcasts and an echo from off the subnet.
void net_frame_seeds(const fs::path& dir) {
  namespace nt = vmft::net_test;
  constexpr uint8_t kFrame = 0, kPoll1s = 2 + 4 * 10, kSendToPeer = 3, kSendToRemote = 3 + 4 * 2;
  const auto peer_asks = nt::arp_request_frame(nt::kPeerMac, nt::kPeerIp, nt::kOurIp);
  std::vector<uint8_t> ping;
  append_net_record(ping, kFrame, peer_asks);
  append_net_record(ping, kFrame, nt::echo_frame(nt::kPeerIp, 0x4242, 1, bytes_of("ping!")));
  write_file(dir / "arp_then_ping.bin", ping);

  std::vector<uint8_t> udp_echo;
  append_net_record(udp_echo, kFrame, peer_asks);
  append_net_record(udp_echo, kFrame,
                    nt::udp_frame(nt::kPeerIp, nt::kOurIp, 5000, 7000, bytes_of("echo me")));
  write_file(dir / "udp_echo.bin", udp_echo);

  std::vector<uint8_t> held;
  append_net_record(held, kSendToPeer, bytes_of("held for ARP"));
  append_net_record(held, kPoll1s, {});
  append_net_record(held, kFrame, nt::arp_reply_frame(nt::kPeerMac, nt::kPeerIp));
  write_file(dir / "held_until_arp_reply.bin", held);

  std::vector<uint8_t> gives_up;
  append_net_record(gives_up, kSendToRemote, bytes_of("via the gateway"));
  for (int i = 0; i < 4; ++i) append_net_record(gives_up, kPoll1s, {});
  write_file(dir / "arp_retries_give_up.bin", gives_up);

  std::vector<uint8_t> broadcasts;
  append_net_record(broadcasts, kFrame,
                    nt::udp_frame(nt::kPeerIp, nt::kSubnetBroadcast, 68, 7000, bytes_of("all"),
                                  nt::kPeerMac, nt::kBroadcastMac));
  append_net_record(broadcasts, kFrame,
                    nt::arp_request_frame(nt::kGatewayMac, nt::kGatewayIp, nt::kOurIp));
  append_net_record(broadcasts, kFrame,
                    nt::echo_frame(nt::kRemoteIp, 7, 8, bytes_of("far"), nt::kGatewayMac));
  append_net_record(broadcasts, kFrame,
                    nt::eth(nt::kBroadcastMac, nt::kPeerMac, nt::kArpType,
                            nt::arp(1, nt::kPeerMac, nt::kPeerIp, nt::kZeroMac, nt::kPeerIp)));
  write_file(dir / "broadcast_and_off_subnet.bin", broadcasts);
  net_frame_tcp_seeds(dir);
}

}  // namespace
}  // namespace vmft::fuzz

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s FUZZ_DIR GUEST_DIR\n", argv[0]);
    return 2;
  }
  namespace fs = std::filesystem;
  using namespace vmft::fuzz;
  const fs::path corpus = fs::path(argv[1]) / "corpus";
  try {
    log_file_seeds(corpus / "log_file");
    record_decoder_seeds(corpus / "record_decoder");
    channel_seeds(corpus / "channel");
    arbiter_request_seeds(corpus / "arbiter_request");
    arbiter_auth_seeds(corpus / "arbiter_request");
    arbiter_state_seeds(corpus / "arbiter_state");
    elf_loader_seeds(corpus / "elf_loader", argv[2]);
    snapshot_seeds(corpus / "snapshot");
    net_frame_seeds(corpus / "net_frame");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "vmft_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}
