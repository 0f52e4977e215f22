#include "provisioning/metrics.hpp"

#include "provisioning/process_stats.hpp"

#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>

namespace zp::provisioning {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

MetricFamily family(std::string name, std::string help, MetricType type) {
  MetricFamily f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = type;
  return f;
}

ClientMetric sample(double value, std::vector<ClientMetric::Label> labels, MetricType type) {
  ClientMetric m;
  m.label = std::move(labels);
  if (type == MetricType::Counter) m.counter.value = value;
  if (type == MetricType::Gauge) m.gauge.value = value;
  return m;
}

// Sums one histogram over workers into a Prometheus histogram (cumulative buckets).
ClientMetric histogram_sample(const std::vector<const proxy::histogram*>& parts) {
  ClientMetric m;
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i <= proxy::histogram::k_bounds.size(); ++i) {
    for (const auto* h : parts) cumulative += h->bucket(i);
    ClientMetric::Bucket b;
    b.cumulative_count = cumulative;
    b.upper_bound =
        i < proxy::histogram::k_bounds.size() ? proxy::histogram::k_bounds[i] : std::numeric_limits<double>::infinity();
    m.histogram.bucket.push_back(b);
  }
  for (const auto* h : parts) {
    m.histogram.sample_count += h->count();
    m.histogram.sample_sum += h->sum();
  }
  return m;
}

}  // namespace

std::string render_metrics(const metrics_input& in) {
  std::vector<MetricFamily> out;
  const auto& shards = in.plane->shards();
  auto sum = [&](auto get) {
    double v = 0;
    for (const auto& s : shards) v += static_cast<double>(get(s->counters()));
    return v;
  };
  const std::pair<proxy::listener_kind, std::string> listeners[] = {
      {proxy::listener_kind::endpoint, "endpoint"}, {proxy::listener_kind::module_server, "module_server"}};

  auto accepted =
      family("zoneproxy_connections_accepted_total", "TCP connections accepted, by listener.", MetricType::Counter);
  auto rejected = family("zoneproxy_connections_rejected_total",
                         "Connections turned away, by listener and reason (a PROTOCOL.md 3.4 code, or "
                         "fd_exhausted when accept failed for lack of descriptors).",
                         MetricType::Counter);
  auto handshakes = family("zoneproxy_tls_handshake_failures_total",
                           "TLS handshakes that failed, by listener and reason.", MetricType::Counter);
  for (const auto& [kind, name] : listeners) {
    const auto k = static_cast<std::size_t>(kind);
    accepted.metric.push_back(sample(sum([k](const proxy::worker_counters& c) { return c.accepted[k].get(); }),
                                     {{"listener", name}}, MetricType::Counter));
    for (std::size_t r = 0; r < static_cast<std::size_t>(proxy::reject_reason::count); ++r) {
      rejected.metric.push_back(
          sample(sum([k, r](const proxy::worker_counters& c) { return c.rejected[k][r].get(); }),
                 {{"listener", name},
                  {"reason", std::string(proxy::reject_reason_name(static_cast<proxy::reject_reason>(r)))}},
                 MetricType::Counter));
    }
    rejected.metric.push_back(sample(sum([k](const proxy::worker_counters& c) { return c.accept_errors[k].get(); }),
                                     {{"listener", name}, {"reason", "fd_exhausted"}}, MetricType::Counter));
    for (std::size_t f = 0; f < static_cast<std::size_t>(proxy::handshake_failure::count); ++f) {
      handshakes.metric.push_back(
          sample(sum([k, f](const proxy::worker_counters& c) { return c.handshake_failed[k][f].get(); }),
                 {{"listener", name},
                  {"reason", std::string(proxy::handshake_failure_name(static_cast<proxy::handshake_failure>(f)))}},
                 MetricType::Counter));
    }
  }
  out.push_back(std::move(accepted));
  out.push_back(std::move(rejected));
  out.push_back(std::move(handshakes));

  auto paired =
      family("zoneproxy_sessions_paired_total", "Sessions whose two halves were paired.", MetricType::Counter);
  paired.metric.push_back(
      sample(sum([](const proxy::worker_counters& c) { return c.sessions_paired.get(); }), {}, MetricType::Counter));
  out.push_back(std::move(paired));
  auto ended = family("zoneproxy_sessions_ended_total", "Paired sessions that ended.", MetricType::Counter);
  ended.metric.push_back(
      sample(sum([](const proxy::worker_counters& c) { return c.sessions_ended.get(); }), {}, MetricType::Counter));
  out.push_back(std::move(ended));
  auto active = family("zoneproxy_sessions_active", "Paired sessions relaying now.", MetricType::Gauge);
  active.metric.push_back(sample(static_cast<double>(in.plane->live_sessions()), {}, MetricType::Gauge));
  out.push_back(std::move(active));
  auto waiting = family("zoneproxy_sessions_waiting", "Halves waiting for their peer, by role.", MetricType::Gauge);
  waiting.metric.push_back(
      sample(static_cast<double>(in.plane->waiting(proxy::role::endpoint)), {{"role", "endpoint"}}, MetricType::Gauge));
  waiting.metric.push_back(sample(static_cast<double>(in.plane->waiting(proxy::role::module_server)),
                                  {{"role", "module_server"}}, MetricType::Gauge));
  out.push_back(std::move(waiting));

  auto bytes = family("zoneproxy_relayed_bytes_total", "Bytes relayed, by direction.", MetricType::Counter);
  bytes.metric.push_back(
      sample(sum([](const proxy::worker_counters& c) { return c.bytes_endpoint_to_module_server.get(); }),
             {{"direction", "endpoint_to_module_server"}}, MetricType::Counter));
  bytes.metric.push_back(
      sample(sum([](const proxy::worker_counters& c) { return c.bytes_module_server_to_endpoint.get(); }),
             {{"direction", "module_server_to_endpoint"}}, MetricType::Counter));
  out.push_back(std::move(bytes));

  std::vector<const proxy::histogram*> pairing, duration;
  for (const auto& s : shards) {
    pairing.push_back(&s->counters().pairing_latency);
    duration.push_back(&s->counters().session_duration);
  }
  auto pl = family("zoneproxy_pairing_latency_seconds",
                   "From the second half's complete hello to both halves handed to the relay.", MetricType::Histogram);
  pl.metric.push_back(histogram_sample(pairing));
  out.push_back(std::move(pl));
  auto sd = family("zoneproxy_session_duration_seconds", "Lifetime of ended sessions.", MetricType::Histogram);
  sd.metric.push_back(histogram_sample(duration));
  out.push_back(std::move(sd));

  auto state = family("zoneproxy_provisioning_state", "1 for the current provisioning state.", MetricType::Gauge);
  for (const char* s : {"unprovisioned", "provisioned", "draining"}) {
    state.metric.push_back(sample(in.state == s ? 1 : 0, {{"state", s}}, MetricType::Gauge));
  }
  out.push_back(std::move(state));
  auto expiry = family("zoneproxy_certificate_expiry_timestamp_seconds",
                       "notAfter of the provisioned data-plane certificates, by key type.", MetricType::Gauge);
  for (const auto& [type, when] : in.certificate_expiry) {
    expiry.metric.push_back(sample(when, {{"type", type}}, MetricType::Gauge));
  }
  out.push_back(std::move(expiry));
  auto build = family("zoneproxy_build_info", "Always 1; the version is in the label.", MetricType::Gauge);
  build.metric.push_back(sample(1, {{"version", ZONEPROXY_VERSION}}, MetricType::Gauge));
  out.push_back(std::move(build));

  auto fds = family("zoneproxy_open_fds", "Open file descriptors.", MetricType::Gauge);
  fds.metric.push_back(sample(static_cast<double>(open_fd_count()), {}, MetricType::Gauge));
  out.push_back(std::move(fds));
  auto max_fds = family("zoneproxy_max_fds", "The file descriptor limit in force.", MetricType::Gauge);
  max_fds.metric.push_back(sample(static_cast<double>(fd_limit()), {}, MetricType::Gauge));
  out.push_back(std::move(max_fds));
  auto rss = family("zoneproxy_resident_memory_bytes", "Resident set size.", MetricType::Gauge);
  rss.metric.push_back(sample(static_cast<double>(resident_bytes()), {}, MetricType::Gauge));
  out.push_back(std::move(rss));

  return prometheus::TextSerializer().Serialize(out);
}

}  // namespace zp::provisioning
