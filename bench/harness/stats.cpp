#include "bench/harness/stats.hpp"

#include <algorithm>
#include <cmath>

namespace zp::bench {

void error_log::add(std::string what) {
  std::lock_guard lock(mu_);
  ++count_;
  if (samples_.size() < k_max_samples) samples_.push_back(std::move(what));
}

std::uint64_t error_log::count() const {
  std::lock_guard lock(mu_);
  return count_;
}

std::vector<std::string> error_log::samples() const {
  std::lock_guard lock(mu_);
  return samples_;
}

void duration_samples::add(std::chrono::nanoseconds d) {
  std::lock_guard lock(mu_);
  ns_.push_back(d.count());
  sorted_ = false;
}

void duration_samples::add_all(const std::vector<std::chrono::nanoseconds>& ds) {
  std::lock_guard lock(mu_);
  for (auto d : ds) ns_.push_back(d.count());
  sorted_ = false;
}

std::size_t duration_samples::size() const {
  std::lock_guard lock(mu_);
  return ns_.size();
}

double duration_samples::quantile_us(double q) const {
  std::lock_guard lock(mu_);
  if (ns_.empty()) return 0;
  if (!sorted_) {
    std::sort(ns_.begin(), ns_.end());
    sorted_ = true;
  }
  // Nearest rank: the smallest sample with at least q of all samples at or below it.
  auto rank = static_cast<std::size_t>(std::ceil(q * static_cast<double>(ns_.size())));
  rank = std::clamp<std::size_t>(rank, 1, ns_.size());
  return static_cast<double>(ns_[rank - 1]) / 1000.0;
}

double duration_samples::mean_us() const {
  std::lock_guard lock(mu_);
  if (ns_.empty()) return 0;
  long double sum = 0;
  for (auto ns : ns_) sum += static_cast<long double>(ns);
  return static_cast<double>(sum / static_cast<long double>(ns_.size()) / 1000.0L);
}

double session_weighted_quantile_us(const std::vector<std::vector<std::chrono::nanoseconds>>& sessions, double q) {
  struct weighted {
    std::int64_t ns;
    long double weight;
  };
  std::vector<weighted> all;
  std::size_t counted = 0;
  for (const auto& s : sessions) {
    if (s.empty()) continue;
    ++counted;
    const long double weight = 1.0L / static_cast<long double>(s.size());
    for (auto d : s) all.push_back({d.count(), weight});
  }
  if (all.empty()) return 0;
  std::sort(all.begin(), all.end(), [](const weighted& a, const weighted& b) { return a.ns < b.ns; });
  // Each session adds up to exactly 1 in exact arithmetic; the tolerance keeps rounding
  // in the running sum from stepping past a boundary that q meets exactly.
  const long double target = static_cast<long double>(std::clamp(q, 0.0, 1.0)) * static_cast<long double>(counted);
  long double sum = 0;
  for (const weighted& w : all) {
    sum += w.weight;
    if (sum >= target - 1e-9L) return static_cast<double>(w.ns) / 1000.0;
  }
  return static_cast<double>(all.back().ns) / 1000.0;
}

}  // namespace zp::bench
