#pragma once
// A side's lifecycle events (vmft/ft/Events.h) for programs: with --events FILE (or fd:N), one
// JSON object per line as each happens, beside the log lines written for people. Every object
// has "time" (UTC, ISO 8601 with ms), "event", "pair", "id" and "role", and the event's own
// fields, named as in vmft/ft/Events.h.
//
// Writes are serialised and flushed line by line; any thread may emit.

#include <cstdio>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>

#include "vmft/ft/Events.h"

namespace vmft::host {

/// The JSON object of `event`'s own fields (without time, event, pair, id and role).
nlohmann::json event_fields(const ft::Event& event);

class EventLog final : public ft::EventSink {
 public:
  /// `target`: empty for none, "fd:N" for an open descriptor, else a file appended to. Throws
  /// std::runtime_error if it cannot be opened.
  EventLog(const std::string& target, std::string pair, std::string role);
  ~EventLog() override;
  EventLog(const EventLog&) = delete;
  EventLog& operator=(const EventLog&) = delete;

  /// This side's id, once known (before the first event that needs it).
  void set_id(std::string id);
  void emit(const ft::Event& event) override;

 private:
  std::mutex mutex_;
  std::FILE* out_ = nullptr;
  bool owned_ = false;
  std::string pair_;
  std::string role_;
  std::string id_;
};

}  // namespace vmft::host
