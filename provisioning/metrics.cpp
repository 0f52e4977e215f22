#include "provisioning/metrics.hpp"

#include "provisioning/process_metrics.hpp"

#include <openssl/crypto.h>
#include <prometheus/metric_family.h>
#include <prometheus/text_serializer.h>

#include <limits>

namespace zp::provisioning {
namespace {

using prometheus::ClientMetric;
using prometheus::MetricFamily;
using prometheus::MetricType;

// Families in order of first declaration; declarations sharing a name share a family.
class families {
 public:
  MetricFamily& get(std::string_view name, std::string_view help, MetricType type) {
    for (auto& f : out_) {
      if (f.name == name) return f;
    }
    MetricFamily& f = out_.emplace_back();
    f.name = std::string(name);
    f.help = std::string(help);
    f.type = type;
    return f;
  }
  void add(std::string_view name, std::string_view help, MetricType type, double value,
           std::vector<ClientMetric::Label> labels = {}) {
    ClientMetric m;
    m.label = std::move(labels);
    (type == MetricType::Counter ? m.counter.value : m.gauge.value) = value;
    get(name, help, type).metric.push_back(std::move(m));
  }
  std::vector<MetricFamily>& all() { return out_; }

 private:
  std::vector<MetricFamily> out_;
};

ClientMetric::Label label(std::string_view name, std::string_view value) {
  return {std::string(name), std::string(value)};
}

void add_counters(families& out, const proxy::plane_stats& stats) {
  for (const proxy::counter_def& d : proxy::k_counters) {
    const std::size_t outer = proxy::size_of(d.outer), inner = proxy::size_of(d.inner);
    for (std::size_t o = 0; o < outer; ++o) {
      for (std::size_t i = 0; i < inner; ++i) {
        std::vector<ClientMetric::Label> labels;
        if (d.outer != proxy::dim::none)
          labels.push_back(label(proxy::label_of(d.outer), proxy::value_name(d.outer, o)));
        if (d.inner != proxy::dim::none)
          labels.push_back(label(proxy::label_of(d.inner), proxy::value_name(d.inner, i)));
        if (!d.fixed_label.first.empty()) labels.push_back(label(d.fixed_label.first, d.fixed_label.second));
        out.add(d.name, d.help, MetricType::Counter, static_cast<double>(stats.total(d.id, o, i)), std::move(labels));
      }
    }
  }
}

void add_histograms(families& out, const proxy::plane_stats& stats) {
  for (const proxy::histogram_def& d : proxy::k_histograms) {
    ClientMetric m;
    std::uint64_t cumulative = 0;
    for (std::size_t b = 0; b <= d.buckets; ++b) {
      // The +Inf bucket is stored at index `d.buckets` (observe() puts anything above the
      // last bound there).
      for (const auto& w : stats.workers) cumulative += w.histograms[std::size_t(d.id)].buckets[b];
      ClientMetric::Bucket bucket;
      bucket.cumulative_count = cumulative;
      bucket.upper_bound = b < d.buckets ? d.bounds[b] : std::numeric_limits<double>::infinity();
      m.histogram.bucket.push_back(bucket);
    }
    for (const auto& w : stats.workers) {
      m.histogram.sample_count += w.histograms[std::size_t(d.id)].count;
      m.histogram.sample_sum += w.histograms[std::size_t(d.id)].sum;
    }
    out.get(d.name, d.help, MetricType::Histogram).metric.push_back(std::move(m));
  }
}

void add_gauges(families& out, const proxy::plane_stats& stats) {
  for (const proxy::gauge_def& d : proxy::k_gauges) {
    if (d.outer == proxy::dim::none) {
      out.add(d.name, d.help, MetricType::Gauge, static_cast<double>(stats.get(d.id)));
      continue;
    }
    for (std::size_t o = 0; o < proxy::size_of(d.outer); ++o) {
      out.add(d.name, d.help, MetricType::Gauge, static_cast<double>(stats.get(d.id, o)),
              {label(proxy::label_of(d.outer), proxy::value_name(d.outer, o))});
    }
  }
}

}  // namespace

std::string render_metrics(const metrics_input& in) {
  families out;
  add_counters(out, *in.stats);
  add_gauges(out, *in.stats);
  add_histograms(out, *in.stats);
  for (const char* s : {"unprovisioned", "provisioned", "draining"}) {
    out.add("zoneproxy_provisioning_state", "1 for the current provisioning state.", MetricType::Gauge,
            in.state == s ? 1 : 0, {label("state", s)});
  }
  // Declared even with no sample, so the family is always there to alert on.
  out.get("zoneproxy_certificate_expiry_timestamp_seconds",
          "notAfter of every certificate in force: the proxy's chains (use rsa, ecdsa) and the CAs it trusts "
          "(module_server_ca, endpoint_client_ca, observer_ca).",
          MetricType::Gauge);
  for (const auto& c : in.certificates) {
    out.add("zoneproxy_certificate_expiry_timestamp_seconds", "", MetricType::Gauge, c.not_after,
            {label("use", c.use), label("subject", c.subject)});
  }
  // Every limit as a gauge, so fullness is one division (sessions_active / max_sessions).
  struct limit {
    std::string_view name, help;
    std::uint64_t proxy::session_settings::*field;
  };
  static constexpr limit k_limits[] = {
      {"zoneproxy_max_sessions", "settings.max_sessions: live sessions allowed.",
       &proxy::session_settings::max_sessions},
      {"zoneproxy_max_pending", "settings.max_pending: waiting halves allowed.", &proxy::session_settings::max_pending},
      {"zoneproxy_max_pending_per_source", "settings.max_pending_per_source.",
       &proxy::session_settings::max_pending_per_source},
      {"zoneproxy_max_admitting", "settings.max_admitting: connections before their hello.",
       &proxy::session_settings::max_admitting},
      {"zoneproxy_max_admitting_per_source", "settings.max_admitting_per_source.",
       &proxy::session_settings::max_admitting_per_source},
      {"zoneproxy_max_early_data_bytes", "settings.max_early_data_bytes, over all waiting halves.",
       &proxy::session_settings::max_early_data_bytes},
  };
  for (const limit& l : k_limits) {
    if (in.settings != nullptr) {
      out.add(l.name, l.help, MetricType::Gauge, static_cast<double>(in.settings->*l.field));
    }
  }
  out.add("zoneproxy_fd_reserve", "Descriptors kept for 17488 and second halves (PROTOCOL.md 3.6).", MetricType::Gauge,
          static_cast<double>(in.fd_reserve));
  out.add("zoneproxy_state_write_failures_total",
          "Changes the state directory did not take: no space, an I/O error, read-only (503 storage_unavailable, "
          "PROTOCOL.md 4.3).",
          MetricType::Counter, static_cast<double>(in.state_write_failures));
  out.add(
      "zoneproxy_key_rotation_pending",
      "1 while new data-plane keys wait for their certificates (zoneproxyctl rotate-keys; README \"Rotating keys\").",
      MetricType::Gauge, in.key_rotation_pending ? 1 : 0);
  for (std::size_t r = 0; r < in.api_refused.size(); ++r) {
    out.add("zoneproxy_api_connections_refused_total",
            "17488 connections turned away or closed early, by reason (PROTOCOL.md 4.2).", MetricType::Counter,
            static_cast<double>(in.api_refused[r]), {label("reason", api_refusal_name(api_refusal(r)))});
  }
  out.add("zoneproxy_build_info", "Always 1; version, git revision and OpenSSL version are in the labels.",
          MetricType::Gauge, 1,
          {label("version", ZONEPROXY_VERSION), label("revision", ZONEPROXY_GIT_REVISION),
           label("openssl", OpenSSL_version(OPENSSL_VERSION_STRING))});
  for (const process_stat_def& d : k_process_stats) {
    const double value = d.read();
    if (d.absent_when_zero && value == 0) continue;
    out.add(d.name, d.help, d.counter ? MetricType::Counter : MetricType::Gauge, value);
  }
  return prometheus::TextSerializer().Serialize(out.all());
}

}  // namespace zp::provisioning
