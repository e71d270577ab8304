#include "CounterChecks.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace vmft::integration {

namespace {
constexpr Duration kTimeout{10000};
}

std::string counter_command(TcpClient& client, const std::string& command) {
  client.send_all(command + "\r\n");
  return client.receive_line(kTimeout).data;
}

long long counter_value(uint16_t tcp_port, const std::string& key) {
  TcpClient client(tcp_port);
  const std::string header = counter_command(client, "GET " + key);
  if (header == "$-1\r\n") return 0;
  const std::string value = client.receive_line(kTimeout).data;
  if (header.empty() || header[0] != '$' || value.size() < 3) return -1;
  return std::stoll(value);
}

void expect_no_acknowledged_incr_lost(const std::vector<IncrClientRecord>& clients,
                                      long long final_value) {
  std::set<long long> all;
  size_t acknowledged = 0;
  for (size_t i = 0; i < clients.size(); i++) {
    const auto& values = clients[i].values;
    EXPECT_TRUE(clients[i].bad_replies.empty())
        << "client " << i << " got " << clients[i].bad_replies.size() << " bad replies, first '"
        << clients[i].bad_replies.front() << "'";
    const auto backwards = std::adjacent_find(values.begin(), values.end(),
                                              [](long long a, long long b) { return b <= a; });
    EXPECT_EQ(backwards, values.end())
        << "client " << i << " read " << *std::next(backwards) << " after " << *backwards;
    all.insert(values.begin(), values.end());
    acknowledged += values.size();
  }
  // Each INCR answers a value of its own: two replies with one value mean an acknowledged
  // INCR was lost and its value handed out again.
  EXPECT_EQ(all.size(), acknowledged) << "a value was acknowledged twice";
  ASSERT_FALSE(all.empty());
  EXPECT_GE(final_value, *all.rbegin()) << "the highest acknowledged value is gone";
  EXPECT_GE(final_value, static_cast<long long>(acknowledged));
}

}  // namespace vmft::integration
