#pragma once
// GET /metrics (Prometheus text format 0.0.4). The data plane's statistics come from
// its tables (proxy/stats.hpp) and a value snapshot taken at scrape time, summed over
// workers into prometheus-cpp metric families (ARCHITECTURE.md "Lists of names: one table each"); the
// process figures from k_process_stats. What only the control plane knows (its state,
// certificate expiry, the build) is declared here, once.

#include "provisioning/api_server.hpp"
#include "provisioning/provision_request.hpp"
#include "provisioning/provisioning_state.hpp"
#include "proxy/data_plane_config.hpp"
#include "proxy/stats.hpp"

#include <array>
#include <optional>

#include <string>
#include <utility>
#include <vector>

namespace zp::provisioning {

/// The control plane's own metrics, one row each (the data plane's are the tables of
/// proxy/stats.hpp, the limits are k_settings' gauges, the process figures
/// k_process_stats): the only place their names and help are written. zoneproxyctl top
/// reads the names from here.
enum class control_metric : std::uint8_t {
  provisioning_state,
  certificate_expiry,
  fd_reserve,
  state_write_failures,
  key_rotation_pending,
  api_connections_refused,
  accept_errors,
  build_info,
  count
};
struct control_metric_def {
  control_metric id;
  std::string_view name;
  bool counter;
  std::string_view help;
};
inline constexpr control_metric_def k_control_metrics[] = {
    {control_metric::provisioning_state, "zoneproxy_provisioning_state", false,
     "1 for the current provisioning state."},
    {control_metric::certificate_expiry, "zoneproxy_certificate_expiry_timestamp_seconds", false,
     "notAfter of every certificate in force: the proxy's chains (use rsa, ecdsa) and the CAs it trusts "
     "(module_server_ca, endpoint_client_ca, observer_ca)."},
    {control_metric::fd_reserve, "zoneproxy_fd_reserve", false,
     "Descriptors kept for 17488 and second halves (PROTOCOL.md 3.6)."},
    {control_metric::state_write_failures, "zoneproxy_state_write_failures_total", true,
     "Changes the state directory did not take: no space, an I/O error, read-only (503 storage_unavailable, "
     "PROTOCOL.md 4.3)."},
    {control_metric::key_rotation_pending, "zoneproxy_key_rotation_pending", false,
     "1 while new data-plane keys wait for their certificates (zoneproxyctl rotate-keys; README \"Rotating keys\")."},
    {control_metric::api_connections_refused, "zoneproxy_api_connections_refused_total", true,
     "17488 connections turned away or closed early, by reason (PROTOCOL.md 4.2)."},
    {control_metric::accept_errors, "zoneproxy_accept_errors_total", true,
     "Accepts that failed on 17488 and the plain metrics port, by listener and reason (the data ports' are in "
     "zoneproxy_connections_rejected_total)."},
    {control_metric::build_info, "zoneproxy_build_info", false,
     "Always 1; version, git revision and OpenSSL version are in the labels."},
};
static_assert(rows_match(k_control_metrics, control_metric::count), "k_control_metrics: a row per metric, in order");
constexpr std::string_view metric_name(control_metric m) { return row_of(k_control_metrics, m).name; }

struct metrics_input {
  const proxy::plane_stats* stats = nullptr;
  provisioning_state state = provisioning_state::unprovisioned;
  // In force (its certificates' expiry, its settings' limits); null while unprovisioned.
  const provision_request* config = nullptr;
  std::uint64_t fd_reserve = 0;
  std::uint64_t state_write_failures = 0;  // changes the state directory did not take
  bool key_rotation_pending = false;       // new data-plane keys wait for certificates
  std::array<std::uint64_t, std::size_t(api_refusal::count)> api_refused{};
  // Failed accepts of 17488 and, when it listens, the plain metrics port.
  std::array<std::uint64_t, std::size_t(accept_error::count)> api_accept_errors{};
  std::optional<std::array<std::uint64_t, std::size_t(accept_error::count)>> metrics_accept_errors;
};

/// The whole exposition, serialised by prometheus-cpp's TextSerializer.
std::string render_metrics(const metrics_input& in);

}  // namespace zp::provisioning
