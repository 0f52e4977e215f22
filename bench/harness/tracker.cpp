#include "bench/harness/scenario.hpp"

namespace zp::bench {

void tracker::add(std::size_t n) {
  std::lock_guard lock(mu_);
  n_ += n;
}

void tracker::done() {
  std::lock_guard lock(mu_);
  if (--n_ == 0) cv_.notify_all();
}

bool tracker::wait_idle(steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return n_ == 0; });
}

std::size_t tracker::in_flight() const {
  std::lock_guard lock(mu_);
  return n_;
}

}  // namespace zp::bench
