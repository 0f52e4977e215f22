#include "proxy/stats.hpp"

#include <algorithm>

namespace zp::proxy {

std::string_view reject_reason_name(reject_reason r) {
  switch (r) {
    case reject_reason::bad_request:
      return "bad_request";
    case reject_reason::not_found:
      return "not_found";
    case reject_reason::method_not_allowed:
      return "method_not_allowed";
    case reject_reason::upgrade_required:
      return "upgrade_required";
    case reject_reason::session_conflict:
      return "session_conflict";
    case reject_reason::too_many_pending:
      return "too_many_pending";
    case reject_reason::unavailable:
      return "unavailable";
    case reject_reason::peer_timeout:
      return "peer_timeout";
    case reject_reason::hello_timeout:
      return "hello_timeout";
    case reject_reason::count:
      break;
  }
  return "unknown";
}

reject_reason reason_for_status(int status) {
  switch (status) {
    case 404:
      return reject_reason::not_found;
    case 405:
      return reject_reason::method_not_allowed;
    case 408:
      return reject_reason::hello_timeout;
    case 409:
      return reject_reason::session_conflict;
    case 426:
      return reject_reason::upgrade_required;
    case 429:
      return reject_reason::too_many_pending;
    case 503:
      return reject_reason::unavailable;
    case 504:
      return reject_reason::peer_timeout;
    default:
      return reject_reason::bad_request;
  }
}

std::string_view handshake_failure_name(handshake_failure f) {
  switch (f) {
    case handshake_failure::timeout:
      return "timeout";
    case handshake_failure::protocol_version:
      return "protocol_version";
    case handshake_failure::no_shared_cipher:
      return "no_shared_cipher";
    case handshake_failure::no_certificate:
      return "no_certificate";
    case handshake_failure::bad_certificate:
      return "bad_certificate";
    case handshake_failure::revoked_certificate:
      return "revoked_certificate";
    case handshake_failure::closed:
      return "closed";
    case handshake_failure::other:
      return "other";
    case handshake_failure::count:
      break;
  }
  return "unknown";
}

void worker_counters::observe(histogram_id h, double seconds) {
  histogram_cells& c = histograms_[std::size_t(h)];
  const auto it = std::lower_bound(k_histogram_bounds.begin(), k_histogram_bounds.end(), seconds);
  c.buckets[static_cast<std::size_t>(it - k_histogram_bounds.begin())].add();
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
