#pragma once

#include <gtest/gtest.h>

#include <string>

#include "GuestServer.h"
#include "ShellCommand.h"

namespace vmft::integration {

/// Runs the counter example guest (examples/counter), a Redis subset, for each test.
class CounterServer : public GuestServerTest {
 protected:
  CounterServer() : GuestServerTest("counter") {}

  /// What `redis-cli --no-raw -p <port> <args>` prints (so replies show their RESP type:
  /// "(integer) 1", "\"text\"", "(nil)", "(error) ERR ..."). Fails the test unless it
  /// exits with 0 within kReplyTimeout.
  std::string redis_cli(const std::string& args) {
    const std::string command =
        "redis-cli --no-raw -p " + std::to_string(server().tcp_port()) + " " + args;
    const CommandResult result = run_shell(command, kReplyTimeout);
    EXPECT_EQ(result.exit_code, std::optional<int>(0)) << command << "\n" << result.err;
    return result.out;
  }
};

}  // namespace vmft::integration
