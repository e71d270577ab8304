#include "ArbiterRaces.h"

#include <gtest/gtest.h>

#include <barrier>
#include <set>
#include <string>
#include <thread>

namespace vmft::integration {

void expect_one_test_and_set_winner_per_epoch(
    const std::vector<std::unique_ptr<arbiter::Arbiter>>& clients, arbiter::Arbiter& admin,
    uint64_t rounds) {
  const auto n = static_cast<std::ptrdiff_t>(clients.size());
  for (uint64_t epoch = 1; epoch <= rounds; ++epoch) {
    std::barrier start_line(n);
    std::vector<arbiter::TasResult> results(clients.size());
    std::vector<std::string> errors(clients.size());
    std::vector<std::thread> threads;
    for (size_t i = 0; i < clients.size(); ++i) {
      threads.emplace_back([&, i] {
        start_line.arrive_and_wait();
        try {
          results[i] = clients[i]->test_and_set("race", epoch, "node-" + std::to_string(i));
        } catch (const std::exception& e) {
          errors[i] = e.what();
        }
      });
    }
    for (auto& t : threads) t.join();
    std::set<std::string> winners;
    for (size_t i = 0; i < clients.size(); ++i) {
      ASSERT_EQ(errors[i], "") << "client " << i << " at epoch " << epoch;
      if (results[i].won) winners.insert("node-" + std::to_string(i));
    }
    ASSERT_EQ(winners.size(), 1u) << "epoch " << epoch;
    const std::string winner = *winners.begin();
    for (const auto& r : results) {
      EXPECT_EQ(r.state, (arbiter::ArbiterState{epoch, arbiter::Mode::kAlone, winner}))
          << "epoch " << epoch;
    }
    // The winner's new backup is in sync: the next epoch is contested afresh.
    ASSERT_TRUE(admin.register_epoch("race", epoch, winner).ok);
  }
}

}  // namespace vmft::integration
