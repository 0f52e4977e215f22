#include "proxy/stats.hpp"

#include <algorithm>
#include <iterator>

namespace zp::proxy {

std::size_t suite_index(std::string_view openssl_name) {
  return static_cast<std::size_t>(std::find(std::begin(k_suites), std::end(k_suites), openssl_name) -
                                  std::begin(k_suites));
}

std::string_view label_of(dim d) {
  switch (d) {
    case dim::listener:
      return "listener";
    case dim::role:
      return "role";
    case dim::reject_reason:
    case dim::handshake_failure:
      return "reason";
    case dim::suite:
      return "suite";
    case dim::end_reason:
    case dim::accept_error:
      return "reason";
    case dim::none:
      break;
  }
  return "";
}

std::string_view value_name(dim d, std::size_t i) {
  switch (d) {
    case dim::listener:
    case dim::role:
      return role_name(role(i));
    case dim::reject_reason:
      return reject_reason_name(reject_reason(i));
    case dim::handshake_failure:
      return handshake_failure_name(handshake_failure(i));
    case dim::suite:
      return i < std::size(k_suites) ? k_suites[i] : "other";
    case dim::end_reason:
      return end_reason_name(end_reason(i));
    case dim::accept_error:
      return accept_error_name(accept_error(i));
    case dim::none:
      break;
  }
  return "";
}

void worker_counters::observe(histogram_id h, double seconds) {
  histogram_cells& c = histograms_[std::size_t(h)];
  const histogram_def& d = k_histograms[std::size_t(h)];
  const auto it = std::lower_bound(d.bounds.begin(), d.bounds.begin() + d.buckets, seconds);
  c.buckets[static_cast<std::size_t>(it - d.bounds.begin())].add();
  c.count.add();
  c.sum_us.add(static_cast<std::uint64_t>(std::max(0.0, seconds) * 1e6));
}

histogram_values worker_counters::histogram(histogram_id h) const {
  const histogram_cells& c = histograms_[std::size_t(h)];
  histogram_values v;
  for (std::size_t i = 0; i < v.buckets.size(); ++i) v.buckets[i] = c.buckets[i].get();
  v.count = c.count.get();
  v.sum = static_cast<double>(c.sum_us.get()) / 1e6;
  return v;
}

std::uint64_t plane_stats::total(counter c, std::size_t outer, std::size_t inner) const {
  std::uint64_t n = 0;
  for (const auto& w : workers) n += w.get(c, outer, inner);
  return n;
}

}  // namespace zp::proxy
