#pragma once
// Per-worker statistics (ARCHITECTURE.md "Observability"): each worker writes only its
// own counters, with relaxed load+store (no locked instruction on the hot path); a
// scrape sums all workers' values from another thread, which relaxed atomics make safe.
// Every name and label set is declared here, once.

#include <array>
#include <atomic>
#include <cstdint>
#include <string_view>

namespace zp::proxy {

/// A counter written by one thread and read by any.
class single_writer_counter {
 public:
  void add(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

enum class listener_kind : std::uint8_t { endpoint = 0, module_server = 1 };
inline constexpr std::size_t k_listener_kinds = 2;
std::string_view listener_name(listener_kind k);

/// Why a connection was turned away (a 3.4 code, or before any HTTP was possible).
enum class reject_reason : std::uint8_t {
  bad_request,
  not_found,
  method_not_allowed,
  upgrade_required,
  session_conflict,
  too_many_pending,
  unavailable,
  peer_timeout,
  hello_timeout,
  count
};
std::string_view reject_reason_name(reject_reason r);

/// Why a TLS handshake failed.
enum class handshake_failure : std::uint8_t {
  timeout,
  protocol_version,
  no_shared_cipher,
  no_certificate,
  bad_certificate,
  revoked_certificate,
  closed,
  other,
  count
};
std::string_view handshake_failure_name(handshake_failure f);

/// Cumulative histogram with fixed upper bounds (seconds), Prometheus-style.
class histogram {
 public:
  static constexpr std::array<double, 14> k_bounds = {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01,
                                                      0.025,  0.1,     1,      10,    60,     600,   3600};
  void observe(double seconds);
  /// Count of observations ≤ k_bounds[i] (non-cumulative per bucket; last = +Inf).
  std::uint64_t bucket(std::size_t i) const { return buckets_[i].get(); }
  std::uint64_t count() const { return count_.get(); }
  double sum() const { return static_cast<double>(sum_us_.get()) / 1e6; }

 private:
  std::array<single_writer_counter, k_bounds.size() + 1> buckets_{};
  single_writer_counter count_;
  single_writer_counter sum_us_;
};

struct worker_counters {
  std::array<single_writer_counter, k_listener_kinds> accepted{};
  std::array<single_writer_counter, k_listener_kinds> accept_errors{};  // EMFILE and friends
  std::array<std::array<single_writer_counter, static_cast<std::size_t>(reject_reason::count)>, k_listener_kinds>
      rejected{};
  std::array<std::array<single_writer_counter, static_cast<std::size_t>(handshake_failure::count)>, k_listener_kinds>
      handshake_failed{};
  single_writer_counter sessions_paired;
  single_writer_counter sessions_ended;
  single_writer_counter sessions_migrated;  // pairs whose halves met on different workers
  single_writer_counter bytes_endpoint_to_module_server;
  single_writer_counter bytes_module_server_to_endpoint;
  histogram pairing_latency;
  histogram session_duration;

  void reject(listener_kind k, reject_reason r) {
    rejected[static_cast<std::size_t>(k)][static_cast<std::size_t>(r)].add();
  }
  void handshake_fail(listener_kind k, handshake_failure f) {
    handshake_failed[static_cast<std::size_t>(k)][static_cast<std::size_t>(f)].add();
  }
};

/// Maps a 3.4 status code to its reject reason.
reject_reason reason_for_status(int status);

}  // namespace zp::proxy
