#pragma once
// The two ends of a log, whatever carries it: a file (LogWriter, LogReader) or the logging
// channel between a primary and its backup (ChannelPrimary, ChannelBackup).

#include <cstdint>
#include <optional>

#include "vmft/logchannel/Record.h"

namespace vmft::logchannel {

/// Where a live role writes its records, in order, from the vCPU thread.
class RecordSink {
 public:
  virtual ~RecordSink() = default;
  /// Takes `record`, whose seq is the previous one + 1. Throws LogError when the log cannot
  /// take it (then every later call throws too). May block while a backup catches up.
  virtual void append(const Record& record) = 0;
  /// Hands what was appended on at once (an output waits for it).
  virtual void flush() = 0;
  /// Flushes and ends the log; nothing may be appended afterwards.
  virtual void close() = 0;
  /// Every record with an instruction count below `icount` has been appended: a backup may
  /// run up to there. A file ignores it.
  virtual void progress(uint64_t icount) { (void)icount; }
};

/// Where a replaying role reads records, in order, on the vCPU thread.
class RecordSource {
 public:
  virtual ~RecordSource() = default;
  virtual const LogHeader& header() const = 0;
  /// The next record if it is there, else nullopt: at the end (see ended()) or, for a live
  /// source, when it has not arrived yet. Throws LogError for corrupt input.
  virtual std::optional<Record> next_record() = 0;
  /// No record will come any more (the end of the file; the primary is gone), and every record
  /// that came has been taken.
  virtual bool ended() const = 0;
  /// Every record with an instruction count below this has arrived (a file: all of them).
  /// A live source's bound rises as records arrive on another thread: a reader that wants
  /// the next record and the bound to agree reads the bound first, then next_record().
  virtual uint64_t complete_below() const { return UINT64_MAX; }
  /// Blocks until complete_below() >= `icount` or the source ends (a file: returns at once).
  virtual void wait_for(uint64_t icount) { (void)icount; }
  /// The replay has executed every instruction below `icount` (a live source tells the
  /// primary, which keeps within a bound of it). Called at block boundaries and when idle.
  virtual void reached(uint64_t icount) { (void)icount; }
  /// A live source: the recording side says every output of the records through this seq has
  /// left it (0: none known). Outputs of later records it may not have sent.
  virtual uint64_t outputs_released() const { return 0; }
};

}  // namespace vmft::logchannel
