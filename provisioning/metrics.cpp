#include "provisioning/metrics.hpp"

#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "provisioning/process_metrics.hpp"
#include "provisioning/x509_text.hpp"

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
  void add(control_metric id, double value, std::vector<ClientMetric::Label> labels = {}) {
    const control_metric_def& d = row_of(k_control_metrics, id);
    add(d.name, d.help, d.counter ? MetricType::Counter : MetricType::Gauge, value, std::move(labels));
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

// The notAfter of every certificate in force: the proxy's chains and the CAs it trusts.
void add_certificate_expiry(families& out, const provision_request& r) {
  auto add = [&out](const std::string& pem, std::string_view use) {
    auto certs = parse_certificates_pem(pem);
    if (!certs.ok()) return;
    for (auto& cert : *certs) {
      out.add(control_metric::certificate_expiry, static_cast<double>(not_after(cert.get())),
              {label("use", use), label("subject", subject_of(cert.get()))});
    }
  };
  const std::pair<const std::optional<std::string>*, std::string_view> in_force[] = {
      {&r.certificates.rsa, "rsa"}, {&r.certificates.ecdsa, "ecdsa"}, {&r.endpoint_client_ca, "endpoint_client_ca"}};
  for (auto [pem, use] : in_force) {
    if (*pem) add(**pem, use);
  }
  add(r.module_server_ca, "module_server_ca");
  if (r.observer_ca) add(*r.observer_ca, "observer_ca");
}

}  // namespace

std::string render_metrics(const metrics_input& in) {
  families out;
  add_counters(out, *in.stats);
  add_gauges(out, *in.stats);
  add_histograms(out, *in.stats);
  for (const auto& [state, name] : k_provisioning_states) {
    out.add(control_metric::provisioning_state, in.state == state ? 1 : 0, {label("state", name)});
  }
  // Declared even with no sample, so the family is always there to alert on.
  const control_metric_def& expiry = row_of(k_control_metrics, control_metric::certificate_expiry);
  out.get(expiry.name, expiry.help, MetricType::Gauge);
  if (in.config != nullptr) add_certificate_expiry(out, *in.config);
  // Every limit as a gauge, so fullness is one division (sessions_active / max_sessions).
  for (const proxy::setting_def& d : proxy::k_settings) {
    if (in.config != nullptr && !d.limit_gauge.empty()) {
      out.add(d.limit_gauge, d.limit_help, MetricType::Gauge, static_cast<double>(d.get(in.config->settings)));
    }
  }
  out.add(control_metric::fd_reserve, static_cast<double>(in.fd_reserve));
  out.add(control_metric::state_write_failures, static_cast<double>(in.state_write_failures));
  out.add(control_metric::key_rotation_pending, in.key_rotation_pending ? 1 : 0);
  for (std::size_t r = 0; r < in.api_refused.size(); ++r) {
    out.add(control_metric::api_connections_refused, static_cast<double>(in.api_refused[r]),
            {label("reason", api_refusal_name(api_refusal(r)))});
  }
  for (std::size_t e = 0; e < in.api_accept_errors.size(); ++e) {
    const std::string_view reason = accept_error_name(accept_error(e));
    out.add(control_metric::accept_errors, static_cast<double>(in.api_accept_errors[e]),
            {label("listener", "provisioning"), label("reason", reason)});
    if (in.metrics_accept_errors) {
      out.add(control_metric::accept_errors, static_cast<double>((*in.metrics_accept_errors)[e]),
              {label("listener", "metrics"), label("reason", reason)});
    }
  }
  out.add(control_metric::build_info, 1,
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
