#include "vmft/devices/Nic.h"

#include <algorithm>
#include <cstddef>
#include <cstring>
#include <iterator>
#include <stdexcept>

namespace vmft::devices {

namespace {

static_assert(sizeof(vmft_nic_rings) == 40 && sizeof(vmft_nic_rx_desc) == 32 &&
                  sizeof(vmft_nic_tx_desc) == 32,
              "the ring layouts are part of the guest ABI: sizes and offsets must not move");

bool valid_ring_size(uint32_t size) {
  return size != 0 && size <= VMFT_NIC_MAX_RING && (size & (size - 1)) == 0;
}

// Guest RAM is little-endian, like every host vmft builds for.
template <class T>
T load(std::span<const uint8_t> bytes) {
  T value;
  std::memcpy(&value, bytes.data(), sizeof value);
  return value;
}

}  // namespace

uint64_t Nic::read(uint64_t offset) {
  switch (offset) {
    case VMFT_NIC_RINGS: return rings_.header;
    case VMFT_NIC_ERROR: return error_;
    default: break;
  }
  const auto frames = backend_.frames();
  if (!frames) return 0;
  switch (offset) {
    case VMFT_NIC_MAC: return frames->mac;
    case VMFT_NIC_IPV4: return frames->ip | uint64_t{frames->prefix_len} << 32;
    case VMFT_NIC_GATEWAY: return frames->gateway;
    case VMFT_NIC_MTU: return frames->mtu;
    default: return 0;
  }
}

void Nic::write(uint64_t offset, uint64_t value) {
  switch (offset) {
    case VMFT_NIC_RINGS: set_rings(value); break;
    case VMFT_NIC_DOORBELL: ring_doorbell(); break;
    default: break;
  }
}

bool Nic::fits(const NicRings& r) const {
  if (r.header == 0) return r == NicRings{};
  return r.header % 8 == 0 && !ram_.slice(r.header, sizeof(vmft_nic_rings)).empty() &&
         valid_ring_size(r.rx_size) && valid_ring_size(r.tx_size) && r.rx_desc % 8 == 0 &&
         r.tx_desc % 8 == 0 &&
         !ram_.slice(r.rx_desc, uint64_t{r.rx_size} * sizeof(vmft_nic_rx_desc)).empty() &&
         !ram_.slice(r.tx_desc, uint64_t{r.tx_size} * sizeof(vmft_nic_tx_desc)).empty();
}

// The layout is read once, here, with the counts to start from; later the guest's counts are
// read only at its doorbell writes (take_posted, ring_doorbell).
void Nic::set_rings(uint64_t header) {
  rings_ = {};
  error_ = VMFT_NIC_OK;
  if (header == 0) return;
  NicRings r{header};  // sizes 0: refused by fits() unless the header is readable
  if (const auto bytes = ram_.slice(header, sizeof(vmft_nic_rings)); !bytes.empty()) {
    const auto h = load<vmft_nic_rings>(bytes);
    r = {header, h.rx_desc, h.tx_desc, h.rx_size, h.tx_size};
  }
  if (!fits(r)) {
    error_ = VMFT_NIC_ERR_RINGS;
    return;
  }
  rings_ = r;
  rx_filled_ = count(offsetof(vmft_nic_rings, rx_filled));
  tx_done_ = count(offsetof(vmft_nic_rings, tx_done));
  rx_posted_ = rx_filled_;
  take_posted();
}

void Nic::take_posted() {
  const uint32_t posted = count(offsetof(vmft_nic_rings, rx_posted));
  if (posted - rx_filled_ <= rings_.rx_size) rx_posted_ = posted;
}

uint32_t Nic::count(size_t field) const {
  return load<uint32_t>(ram_.slice(rings_.header + field, 4));
}

void Nic::set_count(size_t field, uint32_t value) {
  std::memcpy(ram_.slice(rings_.header + field, 4).data(), &value, 4);
}

uint64_t Nic::state_hash() const {
  uint64_t h = 0;
  for (uint64_t v :
       {rings_.header, rings_.rx_desc, rings_.tx_desc, uint64_t{rings_.rx_size},
        uint64_t{rings_.tx_size}, uint64_t{rx_posted_}, uint64_t{rx_filled_}, uint64_t{tx_done_},
        uint64_t{interrupt_}, uint64_t{error_}, uint64_t{queue_.size()}, uint64_t{front_offset_}}) {
    h = hash_combine(h, v);
  }
  for (uint32_t conn : open_conns_) h = hash_combine(h, conn);
  return h;
}

NicState Nic::save() const {
  return {{queue_.begin(), queue_.end()},
          front_offset_,
          {open_conns_.begin(), open_conns_.end()},
          rings_,
          rx_posted_,
          rx_filled_,
          tx_done_,
          interrupt_,
          error_};
}

void Nic::restore(NicState state) {
  if (!fits(state.rings)) {
    throw std::invalid_argument("the NIC's rings in the snapshot do not fit in its RAM");
  }
  if (state.rx_posted - state.rx_filled > state.rings.rx_size) {
    throw std::invalid_argument("the NIC's rx ring in the snapshot has more posted than it holds");
  }
  queue_.assign(std::make_move_iterator(state.queue.begin()),
                std::make_move_iterator(state.queue.end()));
  front_offset_ = state.front_offset;
  open_conns_ = {state.open_conns.begin(), state.open_conns.end()};
  rings_ = state.rings;
  rx_posted_ = state.rx_posted;
  rx_filled_ = state.rx_filled;
  tx_done_ = state.tx_done;
  interrupt_ = state.interrupt;
  error_ = state.error;
}

void Nic::enqueue(NetEvent event) { queue_.push_back(std::move(event)); }

// Events for connections the guest has already closed are dropped at delivery, so that what
// the guest sees depends only on the order of events and its own actions.
void Nic::drop_stale_events() {
  while (!queue_.empty()) {
    const NetEvent& ev = queue_.front();
    const bool stale = (ev.kind == VMFT_NIC_KIND_TCP_DATA || ev.kind == VMFT_NIC_KIND_TCP_CLOSE) &&
                       !open_conns_.contains(ev.conn);
    if (!stale) return;
    backend_.delivered(ev);
    queue_.pop_front();
    front_offset_ = 0;
  }
}

bool Nic::can_deliver() const {
  return !queue_.empty() && rings_.header != 0 && rx_posted_ != rx_filled_;
}

void Nic::deliver() {
  drop_stale_events();
  while (can_deliver()) {
    fill(rings_.rx_desc + uint64_t{rx_filled_ % rings_.rx_size} * sizeof(vmft_nic_rx_desc));
    set_count(offsetof(vmft_nic_rings, rx_filled), ++rx_filled_);
    interrupt_ = true;
    drop_stale_events();
  }
}

void Nic::fill(uint64_t desc_addr) {
  const std::span<uint8_t> bytes = ram_.slice(desc_addr, sizeof(vmft_nic_rx_desc));
  auto desc = load<vmft_nic_rx_desc>(bytes);
  const NetEvent& ev = queue_.front();
  const std::span<uint8_t> buffer = ram_.slice(desc.buf, desc.buf_size);
  desc.conn = desc.len = desc.peer_ip = desc.peer_port = 0;
  if (buffer.empty()) {
    desc.kind = 0;
    std::memcpy(bytes.data(), &desc, sizeof desc);
    return;
  }
  const size_t remaining = ev.data.size() - front_offset_;
  const size_t len = std::min(remaining, buffer.size());
  if (len > 0) std::memcpy(buffer.data(), ev.data.data() + front_offset_, len);
  desc.kind = ev.kind;
  desc.conn = ev.conn;
  desc.len = static_cast<uint32_t>(len);
  desc.peer_ip = ev.peer_ip;
  desc.peer_port = ev.peer_port;
  std::memcpy(bytes.data(), &desc, sizeof desc);
  if (ev.kind == VMFT_NIC_KIND_TCP_OPEN) open_conns_.insert(ev.conn);

  // A TCP payload continues in the next descriptor; a datagram or frame too big for the buffer
  // is truncated, as recvfrom(2) does.
  front_offset_ += len;
  if (ev.kind == VMFT_NIC_KIND_TCP_DATA && front_offset_ < ev.data.size()) return;
  backend_.delivered(ev);
  queue_.pop_front();
  front_offset_ = 0;
}

// Every queued descriptor is taken before the write returns, and the backend hears of the
// batch's end once; a tx_queued the guest left out of range takes at most a ring's worth.
void Nic::ring_doorbell() {
  interrupt_ = false;
  if (rings_.header == 0) return;
  take_posted();
  const uint32_t queued = count(offsetof(vmft_nic_rings, tx_queued));
  const uint32_t pending = std::min(queued - tx_done_, rings_.tx_size);
  for (uint32_t i = 0; i < pending; i++, tx_done_++) {
    const uint64_t addr =
        rings_.tx_desc + uint64_t{tx_done_ % rings_.tx_size} * sizeof(vmft_nic_tx_desc);
    const std::span<uint8_t> bytes = ram_.slice(addr, sizeof(vmft_nic_tx_desc));
    const uint32_t status = send(load<vmft_nic_tx_desc>(bytes));
    std::memcpy(bytes.data() + offsetof(vmft_nic_tx_desc, status), &status, 4);
  }
  set_count(offsetof(vmft_nic_rings, tx_done), tx_done_);
  if (pending > 0) backend_.flush();
}

uint32_t Nic::send(const vmft_nic_tx_desc& desc) {
  if (desc.kind == VMFT_NIC_KIND_FRAME) return send_frame(desc);
  switch (desc.kind) {
    case VMFT_NIC_KIND_UDP:
      if (!backend_.has_udp()) return VMFT_NIC_ERR_KIND;
      break;
    case VMFT_NIC_KIND_TCP_DATA:
    case VMFT_NIC_KIND_TCP_CLOSE:
      if (!backend_.has_tcp()) return VMFT_NIC_ERR_KIND;
      if (!open_conns_.contains(desc.conn)) return VMFT_NIC_ERR_CONN;
      break;
    default: return VMFT_NIC_ERR_KIND;
  }
  std::span<uint8_t> payload;
  if (desc.kind != VMFT_NIC_KIND_TCP_CLOSE && desc.len > 0) {
    if (desc.len > VMFT_NIC_MAX_PAYLOAD) return VMFT_NIC_ERR_BUFFER;
    payload = ram_.slice(desc.buf, desc.len);
    if (payload.empty()) return VMFT_NIC_ERR_BUFFER;
  }
  switch (desc.kind) {
    case VMFT_NIC_KIND_UDP:
      backend_.send_udp(desc.peer_ip, desc.peer_port, {payload.begin(), payload.end()});
      break;
    case VMFT_NIC_KIND_TCP_DATA:
      if (!payload.empty()) backend_.send_tcp(desc.conn, {payload.begin(), payload.end()});
      break;
    case VMFT_NIC_KIND_TCP_CLOSE:
      open_conns_.erase(desc.conn);
      backend_.close_tcp(desc.conn);
      break;
  }
  return VMFT_NIC_OK;
}

// The MTU is the guest's limit as much as the host's: a frame the guest could not have received
// is not sent either.
uint32_t Nic::send_frame(const vmft_nic_tx_desc& desc) {
  const auto frames = backend_.frames();
  if (!frames) return VMFT_NIC_ERR_KIND;
  if (desc.len < VMFT_NIC_ETH_HEADER || desc.len > frames->max_frame()) {
    return VMFT_NIC_ERR_BUFFER;
  }
  const std::span<uint8_t> frame = ram_.slice(desc.buf, desc.len);
  if (frame.empty()) return VMFT_NIC_ERR_BUFFER;
  backend_.send_frame({frame.begin(), frame.end()});
  return VMFT_NIC_OK;
}

}  // namespace vmft::devices
