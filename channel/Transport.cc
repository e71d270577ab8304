#include "Transport.h"

namespace vmft::channel::detail {

using asio::ip::tcp;
using logchannel::kFrameHeaderBytes;

std::vector<uint8_t> framed(std::span<const uint8_t> payload) {
  std::vector<uint8_t> frame;
  frame.reserve(payload.size() + kFrameHeaderBytes);
  logchannel::append_frame(payload, frame);
  return frame;
}

std::string endpoint_text(const tcp::endpoint& ep) {
  return ep.address().to_string() + ":" + std::to_string(ep.port());
}

std::string remote_text(const tcp::socket& socket) {
  asio::error_code ec;
  const auto ep = socket.remote_endpoint(ec);
  return ec ? std::string("an unknown address") : endpoint_text(ep);
}

FrameLink::FrameLink(tcp::socket socket) : socket_(std::move(socket)) {
  asio::error_code ec;
  socket_.set_option(tcp::no_delay(true), ec);
}

void FrameLink::set_handlers(FrameHandler on_frame, ErrorHandler on_error) {
  if (closed_) return;
  if (in_handler_) {
    next_handlers_.emplace(std::move(on_frame), std::move(on_error));
    return;
  }
  on_frame_ = std::move(on_frame);
  on_error_ = std::move(on_error);
}

void FrameLink::read(uint32_t max_payload) {
  max_payload_ = max_payload;
  paused_ = false;
  if (!reading_) read_header();
}

void FrameLink::write(std::vector<uint8_t> frame, std::function<void()> done) {
  if (closed_) return;
  writes_.push_back({std::move(frame), std::move(done)});
  if (writes_.size() == 1) write_front();
}

void FrameLink::close() {
  if (closed_) return;
  closed_ = true;
  asio::error_code ec;
  socket_.shutdown(tcp::socket::shutdown_both, ec);
  socket_.close(ec);
  drop_handlers();
}

bool FrameLink::has_unread_bytes() {
  asio::error_code ec;
  return !closed_ && socket_.available(ec) > 0 && !ec;
}

// The error handler runs before the descriptor closes: the primary's vCPU writes to it
// directly, and must be told to stop (lose()) before its number can go to another socket.
void FrameLink::fail(const std::string& why) {
  if (closed_) return;
  const ErrorHandler on_error = std::move(on_error_);
  if (on_error) on_error(why);
  close();
}

// The handlers (and what they hold, often this link) go once the link is closed; within
// the frame handler, once it returns.
void FrameLink::drop_handlers() {
  if (in_handler_) {
    next_handlers_.emplace();
  } else {
    on_frame_ = {};
    on_error_ = {};
  }
}

void FrameLink::read_header() {
  reading_ = true;
  asio::async_read(
      socket_, asio::buffer(header_),
      [self = shared_from_this()](const asio::error_code& ec, size_t) {
        if (ec) {
          self->reading_ = false;
          return self->fail(ec == asio::error::eof ? "the peer closed the channel" : ec.message());
        }
        if (self->closed_) {
          self->reading_ = false;
          return;
        }
        self->read_payload();
      });
}

void FrameLink::read_payload() {
  const logchannel::FrameHeader h = logchannel::parse_frame_header(header_);
  if (h.payload_bytes > max_payload_) {
    reading_ = false;
    return fail("a frame of " + std::to_string(h.payload_bytes) + " bytes is over the limit");
  }
  checksum_ = h.checksum;
  payload_.resize(h.payload_bytes);
  asio::async_read(socket_, asio::buffer(payload_),
                   [self = shared_from_this()](const asio::error_code& ec, size_t) {
                     self->reading_ = false;
                     if (ec) return self->fail(ec.message());
                     if (self->closed_) return;  // read before the close; nobody listens
                     if (logchannel::frame_checksum(self->payload_) != self->checksum_) {
                       return self->fail("a frame with a bad checksum");
                     }
                     if (self->payload_.empty()) return self->fail("an empty frame");
                     self->in_handler_ = true;
                     self->on_frame_(self->payload_);
                     self->in_handler_ = false;
                     if (self->next_handlers_) {
                       self->on_frame_ = std::move(self->next_handlers_->first);
                       self->on_error_ = std::move(self->next_handlers_->second);
                       self->next_handlers_.reset();
                     }
                     if (!self->closed_ && !self->paused_ && !self->reading_) self->read_header();
                   });
}

void FrameLink::write_front() {
  asio::async_write(socket_, asio::buffer(writes_.front().frame),
                    [self = shared_from_this()](const asio::error_code& ec, size_t) {
                      if (ec) {
                        self->writes_.clear();  // and the links their `done`s may hold
                        return self->fail(ec.message());
                      }
                      auto done = std::move(self->writes_.front().done);
                      self->writes_.pop_front();
                      if (!self->writes_.empty()) self->write_front();
                      if (done) done();
                    });
}

}  // namespace vmft::channel::detail
