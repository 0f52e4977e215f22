#pragma once
// Every statistic of the data plane, declared once (Envoy's habit): the tables below give
// each one its Prometheus name, type, help text and JSON key, and both `/metrics` and
// `/v1/diagnostics` are generated from them, so a statistic cannot be named twice.
//
// Counting (ARCHITECTURE.md "Who owns what"): each worker writes only its own cells,
// with a relaxed load+store (no locked instruction on the hot path); data_plane::stats()
// reads every worker's cells from another thread, which relaxed atomics make safe, into
// a plain value snapshot for the control plane.

#include "common/accept_error.hpp"
#include "common/enum_table.hpp"
#include "proxy/reject_reason.hpp"
#include "proxy/session_id.hpp"

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace zp::proxy {

/// A counter written by one thread and read by any.
class single_writer_counter {
 public:
  void add(std::uint64_t n = 1) { v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed); }
  std::uint64_t get() const { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

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
/// Why a paired session ended.
enum class end_reason : std::uint8_t {
  peer_closed,
  reset,
  idle_timeout,
  revoked,
  killed,
  drain,
  error,
  ca_replaced,
  count
};
/// The label values of both (one row each, the one place to name one).
inline constexpr enum_name<handshake_failure> k_handshake_failures[] = {
    {handshake_failure::timeout, "timeout"},
    {handshake_failure::protocol_version, "protocol_version"},
    {handshake_failure::no_shared_cipher, "no_shared_cipher"},
    {handshake_failure::no_certificate, "no_certificate"},
    {handshake_failure::bad_certificate, "bad_certificate"},
    {handshake_failure::revoked_certificate, "revoked_certificate"},
    {handshake_failure::closed, "closed"},
    {handshake_failure::other, "other"},
};
static_assert(rows_match(k_handshake_failures, handshake_failure::count));
inline constexpr enum_name<end_reason> k_end_reasons[] = {
    {end_reason::peer_closed, "peer_closed"},
    {end_reason::reset, "reset"},
    {end_reason::idle_timeout, "idle_timeout"},
    {end_reason::revoked, "revoked"},
    {end_reason::killed, "killed"},
    {end_reason::drain, "drain"},
    {end_reason::error, "error"},
    {end_reason::ca_replaced, "ca_replaced"},
};
static_assert(rows_match(k_end_reasons, end_reason::count));
constexpr std::string_view handshake_failure_name(handshake_failure f) { return name_in(k_handshake_failures, f); }
constexpr std::string_view end_reason_name(end_reason r) { return name_in(k_end_reasons, r); }

/// The four suites of PROTOCOL.md 2, as a label of handshake counts (their key type is in
/// the name). Index of a negotiated suite's OpenSSL name, or k_suites when unknown.
inline constexpr std::string_view k_suites[] = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                                "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"};
std::size_t suite_index(std::string_view openssl_name);

/// A label of a statistic: what it ranges over. (An enum rather than pointers to
/// descriptor objects: GCC's UBSan cannot evaluate pointer tests in constant expressions.)
enum class dim : std::uint8_t {
  none,
  listener,
  role,
  reject_reason,
  handshake_failure,
  suite,
  end_reason,
  accept_error
};

/// How many values a label has (1 for none).
constexpr std::size_t size_of(dim d) {
  switch (d) {
    case dim::none:
      return 1;
    case dim::listener:
    case dim::role:
      return k_roles;
    case dim::reject_reason:
      return std::size_t(reject_reason::count);
    case dim::handshake_failure:
      return std::size_t(handshake_failure::count);
    case dim::suite:
      return std::size(k_suites);
    case dim::end_reason:
      return std::size_t(end_reason::count);
    case dim::accept_error:
      return std::size_t(accept_error::count);
  }
  return 1;
}
/// The Prometheus label name ("listener", "role", "reason").
std::string_view label_of(dim d);
/// The name of value `i` of a label.
std::string_view value_name(dim d, std::size_t i);

/// The per-worker counters; the order is k_counters'.
enum class counter : std::uint8_t {
  accepted,
  accept_errors,
  rejected,
  handshake_failures,
  handshakes,
  sessions_paired,
  sessions_ended,
  sessions_migrated,
  sessions_record_layer,
  bytes_endpoint_to_module_server,
  bytes_module_server_to_endpoint,
  count
};

/// One counter. In /v1/diagnostics it appears per worker as `key`; a counter by listener
/// sits in that listener's object, and an inner dimension makes it an object of its
/// non-zero values. In /metrics, workers are summed; counters sharing a `name` form one
/// family (the first one's help), told apart by `fixed_label`.
struct counter_def {
  counter id;
  std::string_view key;
  std::string_view name;
  std::string_view help;
  dim outer = dim::none;
  dim inner = dim::none;
  std::pair<std::string_view, std::string_view> fixed_label{};
};

inline constexpr counter_def k_counters[] = {
    {counter::accepted, "accepted", "zoneproxy_connections_accepted_total", "TCP connections accepted, by listener.",
     dim::listener},
    {counter::accept_errors, "accept_errors", "zoneproxy_connections_rejected_total",
     "Connections turned away, by listener and reason (a PROTOCOL.md 3.4 code; fd_exhausted, no_buffers or "
     "accept_failed when accept itself failed).",
     dim::listener, dim::accept_error},
    {counter::rejected, "rejected", "zoneproxy_connections_rejected_total", "", dim::listener, dim::reject_reason},
    {counter::handshake_failures, "handshake_failures", "zoneproxy_tls_handshake_failures_total",
     "TLS handshakes that failed, by listener and reason.", dim::listener, dim::handshake_failure},
    {counter::handshakes, "handshakes", "zoneproxy_tls_handshakes_total",
     "TLS handshakes completed, by listener and negotiated suite (which names the key type).", dim::listener,
     dim::suite},
    {counter::sessions_paired, "sessions_paired", "zoneproxy_sessions_paired_total",
     "Sessions whose two halves were paired."},
    {counter::sessions_ended, "sessions_ended", "zoneproxy_sessions_ended_total",
     "Paired sessions that ended, by reason.", dim::none, dim::end_reason},
    {counter::sessions_migrated, "sessions_migrated", "zoneproxy_sessions_migrated_total",
     "Paired sessions with a half handed over from another worker (halves that met on different workers, or a "
     "session placed on the worker with the fewest)."},
    {counter::sessions_record_layer, "sessions_record_layer", "zoneproxy_sessions_record_layer_total",
     "Paired sessions handed from OpenSSL to the record layer (both SSL objects freed)."},
    {counter::bytes_endpoint_to_module_server,
     "bytes_endpoint_to_module_server",
     "zoneproxy_relayed_bytes_total",
     "Bytes relayed, by direction.",
     dim::none,
     dim::none,
     {"direction", "endpoint_to_module_server"}},
    {counter::bytes_module_server_to_endpoint,
     "bytes_module_server_to_endpoint",
     "zoneproxy_relayed_bytes_total",
     "",
     dim::none,
     dim::none,
     {"direction", "module_server_to_endpoint"}},
};
static_assert(rows_match(k_counters, counter::count), "k_counters: a row per counter, in order");

/// Cells of one counter (one per combination of its dimensions' values).
constexpr std::size_t cells_of(const counter_def& d) { return size_of(d.outer) * size_of(d.inner); }
/// Where a counter's cells begin in a worker's array.
constexpr std::size_t first_cell(counter c) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < std::size_t(c); ++i) at += cells_of(k_counters[i]);
  return at;
}
inline constexpr std::size_t k_counter_cells = first_cell(counter::count);
/// The cell of a counter for an (outer, inner) value pair.
constexpr std::size_t cell(counter c, std::size_t outer = 0, std::size_t inner = 0) {
  const counter_def& d = k_counters[std::size_t(c)];
  return first_cell(c) + outer * size_of(d.inner) + inner;
}

/// Metric names, for readers of /metrics (zoneproxyctl top).
constexpr std::string_view metric_name(counter c) { return row_of(k_counters, c).name; }

/// Histograms (seconds), Prometheus-style fixed upper bounds, each with buckets that fit
/// what it measures (at most k_max_buckets finite bounds; unused ones are 0 and ignored).
inline constexpr std::size_t k_max_buckets = 16;
enum class histogram_id : std::uint8_t { handshake_duration, pairing_latency, session_duration, count };
struct histogram_def {
  histogram_id id;
  std::string_view key;
  std::string_view name;
  std::string_view help;
  std::size_t buckets;  // finite bounds in use
  std::array<double, k_max_buckets> bounds;
};
inline constexpr histogram_def k_histograms[] = {
    {histogram_id::handshake_duration,
     "handshake_duration",
     "zoneproxy_tls_handshake_duration_seconds",
     "From accept to the end of a successful data-plane TLS handshake.",
     12,
     {0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 5}},
    {histogram_id::pairing_latency,
     "pairing_latency",
     "zoneproxy_pairing_latency_seconds",
     "From the second half's complete hello to both halves handed to the relay.",
     12,
     {0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1, 10}},
    {histogram_id::session_duration,
     "session_duration",
     "zoneproxy_session_duration_seconds",
     "Lifetime of ended sessions, from pairing to the end.",
     12,
     {1, 10, 60, 300, 900, 1800, 3600, 4 * 3600, 12 * 3600, 86400, 3 * 86400, 7 * 86400}},
};
static_assert(rows_match(k_histograms, histogram_id::count), "k_histograms: a row per histogram, in order");
constexpr std::string_view metric_name(histogram_id h) { return row_of(k_histograms, h).name; }

/// Plane-wide gauges (read at snapshot time, not counted by workers).
enum class gauge : std::uint8_t { sessions_active, sessions_waiting, admitting, early_data_bytes, count };
struct gauge_def {
  gauge id;
  std::string_view key;  // in /v1/status "sessions"
  std::string_view name;
  std::string_view help;
  dim outer = dim::none;
};
inline constexpr gauge_def k_gauges[] = {
    {gauge::sessions_active, "live", "zoneproxy_sessions_active", "Paired sessions relaying now."},
    {gauge::sessions_waiting, "waiting", "zoneproxy_sessions_waiting", "Halves waiting for their peer, by role.",
     dim::role},
    {gauge::admitting, "admitting", "zoneproxy_connections_admitting",
     "Data-plane connections between accept and waiting or pairing (PROTOCOL.md 3.6)."},
    {gauge::early_data_bytes, "early_data_bytes", "zoneproxy_early_data_bytes",
     "Early data held by all waiting halves together."},
};
static_assert(rows_match(k_gauges, gauge::count), "k_gauges: a row per gauge, in order");
constexpr std::string_view metric_name(gauge g) { return row_of(k_gauges, g).name; }
/// Where a gauge's values sit in plane_stats::gauges, as cell() for counters.
constexpr std::size_t gauge_cell(gauge g, std::size_t outer = 0) {
  std::size_t at = 0;
  for (std::size_t i = 0; i < std::size_t(g); ++i) at += size_of(k_gauges[i].outer);
  return at + outer;
}
inline constexpr std::size_t k_gauge_cells = gauge_cell(gauge::count);

/// A histogram's values: per-bucket (not cumulative) counts, the last one +Inf.
struct histogram_values {
  std::array<std::uint64_t, k_max_buckets + 1> buckets{};  // [buckets] is +Inf
  std::uint64_t count = 0;
  double sum = 0;
};

/// One worker's statistics, written by that worker only.
class worker_counters {
 public:
  void add(counter c, std::uint64_t n = 1) { cells_[cell(c)].add(n); }
  void add(counter c, role r) { cells_[cell(c, std::size_t(r))].add(); }
  void add(counter c, end_reason why) { cells_[cell(c, 0, std::size_t(why))].add(); }
  template <typename Reason>
  void add(counter c, role r, Reason why) {
    cells_[cell(c, std::size_t(r), std::size_t(why))].add();
  }
  void observe(histogram_id h, double seconds);

  std::uint64_t get(std::size_t at) const { return cells_[at].get(); }
  histogram_values histogram(histogram_id h) const;

 private:
  struct histogram_cells {
    std::array<single_writer_counter, k_max_buckets + 1> buckets{};
    single_writer_counter count;
    single_writer_counter sum_us;
  };
  std::array<single_writer_counter, k_counter_cells> cells_{};
  std::array<histogram_cells, std::size_t(histogram_id::count)> histograms_{};
};

/// A value snapshot of the data plane's statistics (data_plane::stats()).
struct plane_stats {
  struct worker {
    unsigned index = 0;
    std::uint64_t live_sessions = 0;         // sessions this worker holds
    std::uint64_t connections_in_setup = 0;  // halves in handshake, hello or waiting
    std::array<std::uint64_t, k_counter_cells> cells{};
    std::array<histogram_values, std::size_t(histogram_id::count)> histograms{};
    std::uint64_t get(counter c, std::size_t outer = 0, std::size_t inner = 0) const {
      return cells[cell(c, outer, inner)];
    }
  };
  bool running = false;
  std::vector<worker> workers;
  std::array<std::uint64_t, k_gauge_cells> gauges{};  // by gauge_cell()

  std::uint64_t get(gauge g, std::size_t outer = 0) const { return gauges[gauge_cell(g, outer)]; }
  /// A counter summed over workers.
  std::uint64_t total(counter c, std::size_t outer = 0, std::size_t inner = 0) const;
};

}  // namespace zp::proxy
