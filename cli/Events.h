#pragma once
// A side's lifecycle events, for programs: with --events FILE (or fd:N), one JSON object per
// line as each happens, beside the log lines written for people. Every object has "time" (UTC,
// ISO 8601 with ms), "event", "pair", "id" and "role", and the event's own fields:
//
//   waiting     a primary listens for its backup             log_port
//   paired      the two sides are a pair, the guest starts   (backup: primary)
//   registered  the arbiter registered the pair, and the backup has the epoch   epoch
//   went_live   a backup won the pair and runs live          epoch, instruction
//   alone       a live side goes on without its backup       epoch, reason
//   lost        the arbiter gave the pair to the other side  epoch, holder
//   broken      lost its peer with no arbiter: stops
//   join_started / joined   a backup joins this side (joined: epoch)
//   released    the pair released at the arbiter on a clean stop   epoch
//   exited      the process ends                             code
//
// Writes are serialised and flushed line by line; any thread may emit.

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

namespace vmft::cli {

class EventLog {
 public:
  /// `target`: empty for none, "fd:N" for an open descriptor, else a file appended to. Throws
  /// std::runtime_error if it cannot be opened.
  EventLog(const std::string& target, std::string pair, std::string role);
  ~EventLog();
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  /// This side's id, once known (before the first event that needs it).
  void set_id(std::string id);
  void emit(const char* event, nlohmann::json fields = nlohmann::json::object());

 private:
  std::mutex mutex_;
  std::FILE* out_ = nullptr;
  bool owned_ = false;
  std::string pair_;
  std::string role_;
  std::string id_;
};

}  // namespace vmft::cli
