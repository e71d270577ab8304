#include "vmft/devices/Nic.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "vmft/guest/abi.h"

namespace vmft::devices {

uint64_t Nic::read(uint64_t offset) {
  switch (offset) {
    case VMFT_NIC_RX_STATUS: return rx_full_ ? 1 : 0;
    case VMFT_NIC_RX_KIND: return rx_kind_;
    case VMFT_NIC_RX_CONN: return rx_conn_;
    case VMFT_NIC_RX_LEN: return rx_len_;
    case VMFT_NIC_RX_PEER_IP: return rx_peer_ip_;
    case VMFT_NIC_RX_PEER_PORT: return rx_peer_port_;
    case VMFT_NIC_RX_BUF_ADDR: return rx_buf_addr_;
    case VMFT_NIC_RX_BUF_SIZE: return rx_buf_size_;
    case VMFT_NIC_TX_KIND: return tx_kind_;
    case VMFT_NIC_TX_CONN: return tx_conn_;
    case VMFT_NIC_TX_PEER_IP: return tx_peer_ip_;
    case VMFT_NIC_TX_PEER_PORT: return tx_peer_port_;
    case VMFT_NIC_TX_BUF_ADDR: return tx_buf_addr_;
    case VMFT_NIC_TX_LEN: return tx_len_;
    case VMFT_NIC_TX_STATUS: return tx_status_;
    default: return 0;
  }
}

void Nic::write(uint64_t offset, uint64_t value) {
  switch (offset) {
    case VMFT_NIC_RX_BUF_ADDR: rx_buf_addr_ = value; break;
    case VMFT_NIC_RX_BUF_SIZE: rx_buf_size_ = value; break;
    case VMFT_NIC_RX_ACK: rx_full_ = false; break;
    case VMFT_NIC_TX_KIND: tx_kind_ = value; break;
    case VMFT_NIC_TX_CONN: tx_conn_ = value; break;
    case VMFT_NIC_TX_PEER_IP: tx_peer_ip_ = value; break;
    case VMFT_NIC_TX_PEER_PORT: tx_peer_port_ = value; break;
    case VMFT_NIC_TX_BUF_ADDR: tx_buf_addr_ = value; break;
    case VMFT_NIC_TX_LEN: tx_len_ = value; break;
    case VMFT_NIC_TX_SEND: send(); break;
    default: break;
  }
}

uint64_t Nic::state_hash() const {
  uint64_t h = 0;
  for (uint64_t v :
       {uint64_t{rx_full_}, rx_kind_, rx_conn_, rx_len_, rx_peer_ip_, rx_peer_port_, rx_buf_addr_,
        rx_buf_size_, tx_kind_, tx_conn_, tx_peer_ip_, tx_peer_port_, tx_buf_addr_, tx_len_,
        tx_status_, uint64_t{queue_.size()}, uint64_t{front_offset_}}) {
    h = hash_combine(h, v);
  }
  for (uint32_t conn : open_conns_) h = hash_combine(h, conn);
  return h;
}

NicState Nic::save() const {
  return {{queue_.begin(), queue_.end()},
          front_offset_,
          {open_conns_.begin(), open_conns_.end()},
          rx_full_,
          rx_kind_,
          rx_conn_,
          rx_len_,
          rx_peer_ip_,
          rx_peer_port_,
          rx_buf_addr_,
          rx_buf_size_,
          tx_kind_,
          tx_conn_,
          tx_peer_ip_,
          tx_peer_port_,
          tx_buf_addr_,
          tx_len_,
          tx_status_};
}

void Nic::restore(NicState state) {
  queue_.assign(std::make_move_iterator(state.queue.begin()),
                std::make_move_iterator(state.queue.end()));
  front_offset_ = state.front_offset;
  open_conns_ = {state.open_conns.begin(), state.open_conns.end()};
  rx_full_ = state.rx_full;
  rx_kind_ = state.rx_kind;
  rx_conn_ = state.rx_conn;
  rx_len_ = state.rx_len;
  rx_peer_ip_ = state.rx_peer_ip;
  rx_peer_port_ = state.rx_peer_port;
  rx_buf_addr_ = state.rx_buf_addr;
  rx_buf_size_ = state.rx_buf_size;
  tx_kind_ = state.tx_kind;
  tx_conn_ = state.tx_conn;
  tx_peer_ip_ = state.tx_peer_ip;
  tx_peer_port_ = state.tx_peer_port;
  tx_buf_addr_ = state.tx_buf_addr;
  tx_len_ = state.tx_len;
  tx_status_ = state.tx_status;
}

void Nic::enqueue(NetEvent event) { queue_.push_back(std::move(event)); }

bool Nic::can_deliver() const {
  return !rx_full_ && !queue_.empty() && !ram_.slice(rx_buf_addr_, rx_buf_size_).empty();
}

void Nic::deliver() {
  // Events for connections the guest has already closed are dropped here, at delivery, so
  // that what the guest sees depends only on the order of events and its own actions.
  while (!queue_.empty()) {
    const NetEvent& ev = queue_.front();
    const bool stale = ev.kind != VMFT_NIC_KIND_UDP && ev.kind != VMFT_NIC_KIND_TCP_OPEN &&
                       !open_conns_.contains(ev.conn);
    if (!stale) break;
    backend_.delivered(ev);
    queue_.pop_front();
    front_offset_ = 0;
  }
  if (queue_.empty()) return;

  const NetEvent& ev = queue_.front();
  const std::span<uint8_t> buffer = ram_.slice(rx_buf_addr_, rx_buf_size_);
  const size_t remaining = ev.data.size() - front_offset_;
  const size_t len = std::min(remaining, buffer.size());
  if (len > 0) std::memcpy(buffer.data(), ev.data.data() + front_offset_, len);

  rx_full_ = true;
  rx_kind_ = ev.kind;
  rx_conn_ = ev.conn;
  rx_len_ = len;
  rx_peer_ip_ = ev.peer_ip;
  rx_peer_port_ = ev.peer_port;
  if (ev.kind == VMFT_NIC_KIND_TCP_OPEN) open_conns_.insert(ev.conn);

  // A TCP payload continues in the next event; a datagram too big for the buffer is
  // truncated, as recvfrom(2) does.
  front_offset_ += len;
  if (ev.kind == VMFT_NIC_KIND_TCP_DATA && front_offset_ < ev.data.size()) return;
  backend_.delivered(ev);
  queue_.pop_front();
  front_offset_ = 0;
}

uint32_t Nic::check_send(std::span<uint8_t>& payload) const {
  switch (tx_kind_) {
    case VMFT_NIC_KIND_UDP:
      if (!backend_.has_udp()) return VMFT_NIC_ERR_KIND;
      break;
    case VMFT_NIC_KIND_TCP_DATA:
    case VMFT_NIC_KIND_TCP_CLOSE:
      if (!backend_.has_tcp()) return VMFT_NIC_ERR_KIND;
      if (!open_conns_.contains(static_cast<uint32_t>(tx_conn_))) return VMFT_NIC_ERR_CONN;
      break;
    default: return VMFT_NIC_ERR_KIND;
  }
  if (tx_kind_ == VMFT_NIC_KIND_TCP_CLOSE || tx_len_ == 0) return VMFT_NIC_OK;
  if (tx_len_ > VMFT_NIC_MAX_PAYLOAD) return VMFT_NIC_ERR_BUFFER;
  payload = ram_.slice(tx_buf_addr_, tx_len_);
  return payload.empty() ? VMFT_NIC_ERR_BUFFER : VMFT_NIC_OK;
}

void Nic::send() {
  std::span<uint8_t> payload;
  tx_status_ = check_send(payload);
  if (tx_status_ != VMFT_NIC_OK) return;
  const auto conn = static_cast<uint32_t>(tx_conn_);
  switch (tx_kind_) {
    case VMFT_NIC_KIND_UDP:
      backend_.send_udp(static_cast<uint32_t>(tx_peer_ip_), static_cast<uint32_t>(tx_peer_port_),
                        {payload.begin(), payload.end()});
      break;
    case VMFT_NIC_KIND_TCP_DATA:
      if (!payload.empty()) backend_.send_tcp(conn, {payload.begin(), payload.end()});
      break;
    case VMFT_NIC_KIND_TCP_CLOSE:
      open_conns_.erase(conn);
      backend_.close_tcp(conn);
      break;
  }
}

}  // namespace vmft::devices
