#pragma once
// The log channel's ends as the ft library takes them: the one place where ft's interfaces meet
// channel's ChannelPrimary and ChannelBackup.

#include "vmft/channel/BackupEnd.h"
#include "vmft/channel/PrimaryEnd.h"
#include "vmft/ft/BackupEnd.h"
#include "vmft/ft/PrimaryEnd.h"

namespace vmft::host {

/// ft::PrimaryEnd over a ChannelPrimary, which it does not own.
class ChannelPrimaryEnd final : public ft::PrimaryEnd {
 public:
  explicit ChannelPrimaryEnd(channel::ChannelPrimary& channel) : channel_(channel) {}

  void listen(Listener listener) override;
  void accept_joiners() override;
  void accept_nothing() override;
  bool backup_left() const override { return channel_.backup_left(); }
  bool lost() const override { return channel_.lost().has_value(); }
  void wait_acknowledged(std::chrono::milliseconds timeout) override {
    channel_.wait_acknowledged(timeout);
  }
  void shutdown() override { channel_.shutdown(); }
  void send_epoch(uint64_t epoch) override { channel_.send_epoch(epoch); }
  bool send_ram(uint64_t session, uint64_t offset, std::span<const uint8_t> bytes) override {
    return channel_.send_ram(session, offset, bytes);
  }
  bool start_stream(uint64_t session, uint64_t seq, uint64_t icount,
                    const std::vector<std::pair<uint64_t, std::vector<uint8_t>>>& ram,
                    std::span<const uint8_t> snapshot) override {
    return channel_.start_stream(session, seq, icount, ram, snapshot);
  }

 private:
  channel::ChannelPrimary& channel_;
};

/// ft::BackupEnd over a ChannelBackup, which it does not own.
class ChannelBackupEnd final : public ft::BackupEnd {
 public:
  explicit ChannelBackupEnd(channel::ChannelBackup& channel) : channel_(channel) {}

  void wait_goodbye(std::chrono::milliseconds timeout) override { channel_.wait_goodbye(timeout); }
  void shutdown() override { channel_.shutdown(); }

 private:
  channel::ChannelBackup& channel_;
};

}  // namespace vmft::host
