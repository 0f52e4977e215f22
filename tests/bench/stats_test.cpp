// The harness's session-weighted percentile (bench/harness/stats.hpp): the figure that a
// proxy serving some sessions first cannot lower by starving the others.

#include "bench/harness/stats.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <vector>

namespace zp::bench {
namespace {

using std::chrono::microseconds;
using samples = std::vector<std::chrono::nanoseconds>;

samples repeat(int n, long us) { return samples(static_cast<std::size_t>(n), microseconds(us)); }

TEST(SessionWeightedQuantile, AStarvedSessionCountsAsMuchAsABusyOne) {
  // One session served fast 8 times, two kept waiting that managed one round trip each.
  const std::vector<samples> sessions{repeat(8, 100), repeat(1, 1000), repeat(1, 1000)};
  duration_samples all;
  for (const auto& s : sessions) all.add_all(s);
  EXPECT_EQ(all.quantile_us(0.5), 100);  // over all round trips the fast session wins
  EXPECT_EQ(session_weighted_quantile_us(sessions, 0.5), 1000);
  EXPECT_EQ(session_weighted_quantile_us(sessions, 0.3), 100);
  EXPECT_EQ(session_weighted_quantile_us(sessions, 1.0), 1000);
  EXPECT_EQ(session_weighted_quantile_us(sessions, 0.0), 100);
}

TEST(SessionWeightedQuantile, EqualCountsGiveTheNearestRankOfAllSamples) {
  const std::vector<samples> sessions{{microseconds(5), microseconds(1), microseconds(9)},
                                      {microseconds(2), microseconds(8), microseconds(7)},
                                      {microseconds(4), microseconds(3), microseconds(6)}};
  duration_samples all;
  for (const auto& s : sessions) all.add_all(s);
  for (double q : {0.0, 0.1, 0.2, 1.0 / 3, 0.5, 0.9, 0.99, 1.0}) {
    EXPECT_EQ(session_weighted_quantile_us(sessions, q), all.quantile_us(q)) << "q=" << q;
  }
}

TEST(SessionWeightedQuantile, EmptySessionsWeighNothing) {
  EXPECT_EQ(session_weighted_quantile_us({}, 0.5), 0);
  EXPECT_EQ(session_weighted_quantile_us({samples{}, samples{}}, 0.5), 0);
  EXPECT_EQ(session_weighted_quantile_us({samples{}, repeat(3, 42)}, 0.5), 42);
}

}  // namespace
}  // namespace zp::bench
