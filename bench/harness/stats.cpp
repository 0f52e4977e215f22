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

}  // namespace zp::bench
