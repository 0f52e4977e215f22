#pragma once
// What a run collects from every thread: errors (counted, a few kept as samples) and
// durations (for percentiles). Both are shared by all I/O threads, so both lock; the
// lock is taken once per event (a round trip, a session), never per byte.

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <vector>

namespace zp::bench {

class error_log {
 public:
  /// Counts one error; the first few are kept verbatim for the report.
  void add(std::string what);
  std::uint64_t count() const;
  std::vector<std::string> samples() const;

 private:
  static constexpr std::size_t k_max_samples = 10;
  mutable std::mutex mu_;
  std::uint64_t count_ = 0;
  std::vector<std::string> samples_;
};

class duration_samples {
 public:
  void add(std::chrono::nanoseconds d);
  /// Adds many at once (a session's local batch).
  void add_all(const std::vector<std::chrono::nanoseconds>& ds);
  std::size_t size() const;
  /// The q-quantile (0 <= q <= 1, nearest rank) in microseconds; 0 when empty.
  double quantile_us(double q) const;
  /// The arithmetic mean in microseconds; 0 when empty.
  double mean_us() const;

 private:
  mutable std::mutex mu_;
  mutable std::vector<std::int64_t> ns_;
  mutable bool sorted_ = true;
};

/// The q-quantile (0 <= q <= 1) in microseconds of durations grouped by session, each
/// session weighing the same however many samples it has: the smallest duration with at
/// least q of the total weight at or below it (nearest rank when all counts are equal);
/// 0 when no session has a sample. In a closed loop a session kept waiting makes fewer
/// round trips, so over all round trips its slow ones are outnumbered by the fast ones of
/// the sessions served first (a form of coordinated omission); here they are not.
double session_weighted_quantile_us(const std::vector<std::vector<std::chrono::nanoseconds>>& sessions, double q);

}  // namespace zp::bench
