#include "provisioning/api_views.hpp"

#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "provisioning/process_metrics.hpp"
#include "provisioning/x509_text.hpp"

namespace zp::provisioning {
namespace {

using json = nlohmann::json;

json cert_json(X509* cert) {
  const std::time_t expiry = not_after(cert);
  return {{"subject", subject_of(cert)},
          {"sha256", cert_sha256_hex(cert)},
          {"spki_sha256", spki_sha256_hex(cert)},
          {"not_after", iso8601(expiry)},
          {"not_after_unix", expiry}};
}

json certs_json(const std::string& pem) {
  json out = json::array();
  auto certs = parse_certificates_pem(pem);
  if (certs.ok()) {
    for (auto& c : *certs) out.push_back(cert_json(c.get()));
  }
  return out;
}

// One worker's counters as k_counters lays them out (see proxy/stats.hpp).
json worker_json(const proxy::plane_stats::worker& w) {
  json out = {{"index", w.index}, {"live_sessions", w.live_sessions}, {"connections_in_setup", w.connections_in_setup}};
  for (const proxy::counter_def& d : proxy::k_counters) {
    if (d.outer == proxy::dim::none && d.inner == proxy::dim::none) {
      out[std::string(d.key)] = w.get(d.id);
      continue;
    }
    if (d.outer == proxy::dim::none) {  // an object of the inner dimension's non-zero values
      json& at = out[std::string(d.key)] = json::object();
      for (std::size_t i = 0; i < proxy::size_of(d.inner); ++i) {
        if (auto v = w.get(d.id, 0, i)) at[std::string(proxy::value_name(d.inner, i))] = v;
      }
      continue;
    }
    for (std::size_t o = 0; o < proxy::size_of(d.outer); ++o) {
      json& at = out[std::string(proxy::value_name(d.outer, o))][std::string(d.key)];
      if (d.inner == proxy::dim::none) {
        at = w.get(d.id, o);
        continue;
      }
      at = json::object();
      for (std::size_t i = 0; i < proxy::size_of(d.inner); ++i) {
        if (auto v = w.get(d.id, o, i)) at[std::string(proxy::value_name(d.inner, i))] = v;
      }
    }
  }
  return out;
}

json process_json() {
  json out = json::object();
  for (const process_stat_def& d : k_process_stats) out[std::string(d.object)][std::string(d.key)] = d.read();
  return out;
}

}  // namespace

json identity_view(std::string_view state, const identity& id) {
  return {{"state", state},
          {"version", ZONEPROXY_VERSION},
          {"fingerprints", {{"rsa", id.rsa_spki_sha256}, {"ecdsa", id.ecdsa_spki_sha256}}}};
}

json certificates_view(const provision_request* config) {
  json out = json::object();
  if (config == nullptr) return out;
  if (config->certificates.rsa) out["rsa"] = certs_json(*config->certificates.rsa);
  if (config->certificates.ecdsa) out["ecdsa"] = certs_json(*config->certificates.ecdsa);
  return out;
}

json status_view(const proxy_facts& facts, const proxy::plane_stats& stats) {
  const local_settings& local = *facts.local;
  json listeners = {{"provisioning", {{"address", local.provisioning_bind}, {"port", facts.provisioning_port}}}};
  if (stats.running) {
    listeners["endpoint"] = {{"address", local.endpoint_bind}, {"port", facts.data_ports.first}};
    listeners["module_server"] = {{"address", local.module_server_bind}, {"port", facts.data_ports.second}};
  }
  json sessions = json::object();
  for (const proxy::gauge_def& g : proxy::k_gauges) {
    json& at = sessions[std::string(g.key)];
    if (g.outer == proxy::dim::none) {
      at = stats.get(g.id);
      continue;
    }
    for (std::size_t o = 0; o < proxy::size_of(g.outer); ++o)
      at[std::string(proxy::value_name(g.outer, o))] = stats.get(g.id, o);
  }
  return {{"state", facts.state},   {"version", ZONEPROXY_VERSION}, {"uptime_s", facts.uptime.count()},
          {"listeners", listeners}, {"sessions", sessions},         {"certificates", certificates_view(facts.config)}};
}

json diagnostics_view(const proxy_facts& facts, const proxy::plane_stats& stats,
                      const std::vector<proxy::error_record>& errors) {
  json workers = json::array();
  for (const auto& w : stats.workers) workers.push_back(worker_json(w));
  json recent = json::array();
  for (const auto& e : errors) {
    recent.push_back({{"time", iso8601(std::chrono::system_clock::to_time_t(e.time))},
                      {"listener", proxy::role_name(e.listener)},
                      {"peer", e.peer},
                      {"reason", e.reason}});
  }
  json config = {{"endpoint_bind", facts.local->endpoint_bind},
                 {"module_server_bind", facts.local->module_server_bind},
                 {"provisioning_bind", facts.local->provisioning_bind},
                 {"provisioning_port", facts.provisioning_port}};
  json settings = nullptr;
  if (const provision_request* r = facts.config) {
    settings = settings_to_json(r->settings);
    config["endpoint_port"] = r->endpoint_port;
    config["module_server_port"] = r->module_server_port;
    config["settings"] = settings;
    config["module_server_ca"] = certs_json(r->module_server_ca);
    config["endpoint_client_ca"] = r->endpoint_client_ca ? certs_json(*r->endpoint_client_ca) : json(nullptr);
    config["certificates"] = certificates_view(r);
  }
  json out = {
      {"state", facts.state},
      {"config", config},
      {"workers", workers},
      {"recent_errors", recent},
      {"limits",
       {{"settings", settings}, {"drain_timeout_s", facts.local->drain_timeout.count()}, {"fd_limit", fd_limit()}}}};
  out.update(process_json());
  return out;
}

json sessions_view(const std::vector<proxy::session_info>& sessions) {
  json list = json::array();
  for (const auto& s : sessions) {
    json item = {
        {"id_prefix", s.id_prefix},
        {"state", s.state},
        {"endpoint_address", s.endpoint_address.empty() ? json(nullptr) : json(s.endpoint_address)},
        {"module_server_address", s.module_server_address.empty() ? json(nullptr) : json(s.module_server_address)},
        {"bytes_endpoint_to_module_server", s.bytes_endpoint_to_module_server},
        {"bytes_module_server_to_endpoint", s.bytes_module_server_to_endpoint},
        {"age_s", s.age_s},
        {"worker", s.worker}};
    if (!s.waiting_role.empty()) item["waiting_role"] = s.waiting_role;
    list.push_back(std::move(item));
  }
  return {{"sessions", list}};
}

json trust_view(const trust_state& trust, const provision_request* config) {
  json revoked = json::array(), history = json::array();
  for (const auto& fp : trust.revoked) revoked.push_back(fp);
  for (const auto& e : trust.history) {
    history.push_back(
        {{"time", iso8601(e.time)}, {"action", e.action}, {"fingerprint", e.fingerprint}, {"subject", e.subject}});
  }
  json out = {{"revoked", revoked}, {"history", history}};
  out["trusted_cas"] = config ? certs_json(config->module_server_ca) : json::array();
  out["endpoint_cas"] = config && config->endpoint_client_ca ? certs_json(*config->endpoint_client_ca) : json::array();
  return out;
}

}  // namespace zp::provisioning
