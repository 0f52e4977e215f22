#include "provisioning/control_plane.hpp"

#include "common/fingerprint.hpp"
#include "common/log.hpp"
#include "common/pem.hpp"
#include "common/strings.hpp"
#include "provisioning/key_factory.hpp"
#include "provisioning/metrics.hpp"
#include "provisioning/process_stats.hpp"

#include <openssl/pem.h>
#include <spdlog/spdlog.h>

namespace zp::provisioning {
namespace {

using json = nlohmann::json;

api_error bad_request(const field_error& e) { return {400, "bad_request", str_cat(e.field, ": ", e.message)}; }
api_error internal(const absl::Status& st) { return {500, "internal_error", message_of(st)}; }
api_error wrong_state(std::string_view why) { return {409, "wrong_state", std::string(why)}; }

std::string subject_of(X509* cert) {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

std::time_t not_after(X509* cert) {
  std::tm tm{};
  ASN1_TIME_to_tm(X509_get0_notAfter(cert), &tm);
  return timegm(&tm);
}

std::string iso8601(std::time_t t) {
  char buf[32];
  std::tm tm{};
  gmtime_r(&t, &tm);
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

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

evp_pkey_ptr share(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return evp_pkey_ptr(key);
}

}  // namespace

bool revocation_set::contains(const std::string& fingerprint) const { return set_.load()->contains(fingerprint); }

void revocation_set::replace(absl::flat_hash_set<std::string> fingerprints) {
  set_.store(std::make_shared<const absl::flat_hash_set<std::string>>(std::move(fingerprints)));
}

const char* control_plane::state_name(state s) {
  switch (s) {
    case state::unprovisioned:
      return "unprovisioned";
    case state::provisioned:
      return "provisioned";
    case state::draining:
      return "draining";
  }
  return "unknown";
}

control_plane::control_plane(const state_store& store, identity id, state_store::data_plane_keys keys,
                             proxy::data_plane& plane, options opts)
    : store_(store), identity_(std::move(id)), keys_(std::move(keys)), plane_(plane), opts_(std::move(opts)) {}

validation_context control_plane::validation() const {
  return {keys_.rsa.get(), keys_.ecdsa.get(), opts_.provisioning_port, std::time(nullptr)};
}

absl::Status control_plane::build_identity_api_ctx() {
  server_tls_options o;
  o.identities = {&identity_.rsa, &identity_.ecdsa};
  auto ctx = make_server_ctx(o);
  if (!ctx.ok()) return ctx.status();
  api_ctx_.store(std::shared_ptr<SSL_CTX>(ctx->release(), SSL_CTX_free));
  return absl::OkStatus();
}

absl::StatusOr<control_plane::built> control_plane::build_config(const provision_request& req) const {
  std::vector<tls_identity> ids;
  for (auto [pem, key] :
       {std::pair{&req.certificates.rsa, keys_.rsa.get()}, std::pair{&req.certificates.ecdsa, keys_.ecdsa.get()}}) {
    if (!*pem) continue;
    auto chain = parse_certificates_pem(**pem);
    if (!chain.ok()) return chain.status();
    ids.push_back(tls_identity{share(key), std::move(*chain)});
  }
  auto ms_cas = parse_certificates_pem(req.module_server_ca);
  if (!ms_cas.ok()) return ms_cas.status();
  std::vector<x509_ptr> ep_cas;
  if (req.endpoint_client_ca) {
    auto parsed = parse_certificates_pem(*req.endpoint_client_ca);
    if (!parsed.ok()) return parsed.status();
    ep_cas = std::move(*parsed);
  }
  server_tls_options ep, ms;
  for (auto& id : ids) {
    ep.identities.push_back(&id);
    ms.identities.push_back(&id);
  }
  for (auto& c : ep_cas) ep.client_cas.push_back(c.get());
  for (auto& c : *ms_cas) ms.client_cas.push_back(c.get());
  // Revocation (PROTOCOL.md 4.2) is checked in every handshake on 17487 and 17488.
  ms.client_check = [revoked = revoked_](X509* leaf) { return !revoked->contains(cert_sha256_hex(leaf)); };
  auto ep_ctx = make_server_ctx(ep);
  if (!ep_ctx.ok()) return ep_ctx.status();
  auto ms_ctx = make_server_ctx(ms);
  if (!ms_ctx.ok()) return ms_ctx.status();
  // 17488: the same trust and revocation, but a client without a certificate finishes
  // the handshake and is then closed unanswered by the routes (PROTOCOL.md 4.2).
  server_tls_options api = ms;
  api.client_cert_required = false;
  auto api_ctx = make_server_ctx(api);
  if (!api_ctx.ok()) return api_ctx.status();
  auto cfg = std::make_shared<proxy::data_plane_config>();
  cfg->bind = opts_.bind;
  cfg->endpoint_port = req.endpoint_port;
  cfg->module_server_port = req.module_server_port;
  cfg->settings = req.settings;
  cfg->drain_timeout = opts_.drain_timeout;
  cfg->endpoint_ctx = std::shared_ptr<SSL_CTX>(ep_ctx->release(), SSL_CTX_free);
  cfg->module_server_ctx = std::shared_ptr<SSL_CTX>(ms_ctx->release(), SSL_CTX_free);
  return built{std::move(cfg), std::shared_ptr<SSL_CTX>(api_ctx->release(), SSL_CTX_free)};
}

absl::Status control_plane::restore() {
  auto trust = store_.load_trust();
  if (!trust.ok()) return trust.status();
  trust_ = std::move(*trust);
  revoked_->replace(absl::flat_hash_set<std::string>(trust_.revoked.begin(), trust_.revoked.end()));
  auto provisioned = store_.load_provisioned();
  if (!provisioned.ok()) return provisioned.status();
  if (!provisioned->has_value()) {
    auto token = store_.load_or_create_bootstrap_token();
    if (!token.ok()) return token.status();
    token_ = std::move(*token);
    state_ = state::unprovisioned;
    if (auto st = build_identity_api_ctx(); !st.ok()) return st;
    spdlog::info("event=bootstrap_token_ready token_file={}", log::q(store_.token_path().string()));
    return absl::OkStatus();
  }
  provisioned_ = std::move(**provisioned);
  // The certificates must still belong to our keys; anything else is a damaged or
  // foreign state dir, and coming up with it would serve the wrong identity.
  for (auto [pem, key, name] : {std::tuple{&provisioned_->config.certificates.rsa, keys_.rsa.get(), "rsa"},
                                std::tuple{&provisioned_->config.certificates.ecdsa, keys_.ecdsa.get(), "ecdsa"}}) {
    if (!*pem) continue;
    auto chain = parse_certificates_pem(**pem);
    if (!chain.ok() || EVP_PKEY_eq(X509_get0_pubkey(chain->front().get()), key) != 1) {
      return absl::FailedPreconditionError(
          str_cat(store_.provisioned_path().string(), ": certificates.", name, " does not match the data-plane key"));
    }
  }
  auto cfg = build_config(provisioned_->config);
  if (!cfg.ok()) {
    return absl::FailedPreconditionError(str_cat(store_.provisioned_path().string(), ": ", cfg.status().message()));
  }
  if (auto st = plane_.start(cfg->config); !st.ok()) return st;
  api_ctx_.store(cfg->api_ctx);
  state_ = state::provisioned;
  // A token left by a crash between the commit and its deletion dies now.
  if (auto st = store_.remove_bootstrap_token(); !st.ok()) return st;
  auto [ep, ms] = plane_.ports();
  spdlog::info("event=restored state=provisioned endpoint_port={} module_server_port={}", ep, ms);
  return absl::OkStatus();
}

json control_plane::identity_json() const {
  return {{"state", state_name(state_)},
          {"version", ZONEPROXY_VERSION},
          {"fingerprints", {{"rsa", identity_.rsa_spki_sha256}, {"ecdsa", identity_.ecdsa_spki_sha256}}}};
}

api_result<json> control_plane::csr(const csr_request& req) const {
  json out;
  for (auto [key, name] : {std::pair{keys_.rsa.get(), "rsa"}, std::pair{keys_.ecdsa.get(), "ecdsa"}}) {
    auto csr = make_csr(key, req.common_name, req.dns_names, req.ip_addresses);
    if (!csr.ok()) return api_error{400, "bad_request", message_of(csr.status())};
    bio_ptr bio(BIO_new(BIO_s_mem()));
    PEM_write_bio_X509_REQ(bio.get(), csr->get());
    char* data = nullptr;
    long len = BIO_get_mem_data(bio.get(), &data);
    out[name] = std::string(data, static_cast<std::size_t>(len));
  }
  return out;
}

api_result<json> control_plane::provision(const json& body) {
  if (state_ != state::unprovisioned) return wrong_state("already provisioned (deprovision first)");
  auto parsed = parse_provision(body, validation());
  if (auto* e = std::get_if<field_error>(&parsed)) return bad_request(*e);
  provision_request req = std::get<provision_request>(std::move(parsed));
  auto cfg = build_config(req);
  if (!cfg.ok()) return api_error{400, "bad_request", message_of(cfg.status())};
  // Bind before committing: a taken port changes nothing (PROTOCOL.md 4.2).
  if (auto st = plane_.start(cfg->config); !st.ok()) return api_error{409, "port_unavailable", message_of(st)};
  trust_state trust = trust_;
  auto cas = parse_certificates_pem(req.module_server_ca);
  for (auto& ca : *cas) {
    trust.history.push_back({std::time(nullptr), "trusted", cert_sha256_hex(ca.get()), subject_of(ca.get())});
  }
  provisioned_state next{std::move(req), std::time(nullptr)};
  absl::Status st = store_.save_trust(trust);
  if (st.ok()) st = store_.save_provisioned(next);  // the commit point
  if (!st.ok()) {
    plane_.stop();
    return internal(st);
  }
  trust_ = std::move(trust);
  provisioned_ = std::move(next);
  if (auto removed = store_.remove_bootstrap_token(); !removed.ok()) {
    spdlog::error("event=token_removal_failed error={}", log::q(message_of(removed)));
  }
  token_.clear();
  api_ctx_.store(cfg->api_ctx);
  state_ = state::provisioned;
  auto [ep, ms] = plane_.ports();
  spdlog::info("event=provisioned endpoint_port={} module_server_port={}", ep, ms);
  return status();
}

json control_plane::certificates_json() const {
  json out = json::object();
  if (!provisioned_) return out;
  const auto& c = provisioned_->config.certificates;
  if (c.rsa) out["rsa"] = certs_json(*c.rsa);
  if (c.ecdsa) out["ecdsa"] = certs_json(*c.ecdsa);
  return out;
}

json control_plane::status() {
  auto [ep, ms] = plane_.ports();
  json listeners = {{"provisioning", {{"address", opts_.bind}, {"port", opts_.provisioning_port}}}};
  if (plane_.running()) {
    listeners["endpoint"] = {{"address", opts_.bind}, {"port", ep}};
    listeners["module_server"] = {{"address", opts_.bind}, {"port", ms}};
  }
  return {{"state", state_name(state_)},
          {"version", ZONEPROXY_VERSION},
          {"uptime_s",
           std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_).count()},
          {"listeners", listeners},
          {"sessions",
           {{"live", plane_.live_sessions()},
            {"waiting",
             {{"endpoint", plane_.waiting(proxy::role::endpoint)},
              {"module_server", plane_.waiting(proxy::role::module_server)}}}}},
          {"certificates", certificates_json()}};
}

json control_plane::diagnostics() {
  json workers = json::array();
  for (const auto& shard : plane_.shards()) {
    const proxy::worker_counters& c = shard->counters();
    json w = {{"index", shard->index()},
              {"live_sessions", shard->session_count()},
              {"connections_in_setup", shard->half_count()},
              {"sessions_paired", c.sessions_paired.get()},
              {"sessions_ended", c.sessions_ended.get()},
              {"sessions_migrated", c.sessions_migrated.get()},
              {"bytes_endpoint_to_module_server", c.bytes_endpoint_to_module_server.get()},
              {"bytes_module_server_to_endpoint", c.bytes_module_server_to_endpoint.get()}};
    for (auto kind : {proxy::listener_kind::endpoint, proxy::listener_kind::module_server}) {
      const auto k = static_cast<std::size_t>(kind);
      json rejected = json::object(), failed = json::object();
      for (std::size_t r = 0; r < static_cast<std::size_t>(proxy::reject_reason::count); ++r) {
        if (auto v = c.rejected[k][r].get())
          rejected[proxy::reject_reason_name(static_cast<proxy::reject_reason>(r))] = v;
      }
      for (std::size_t f = 0; f < static_cast<std::size_t>(proxy::handshake_failure::count); ++f) {
        if (auto v = c.handshake_failed[k][f].get()) {
          failed[proxy::handshake_failure_name(static_cast<proxy::handshake_failure>(f))] = v;
        }
      }
      w[std::string(proxy::listener_name(kind))] = {{"accepted", c.accepted[k].get()},
                                                    {"accept_errors", c.accept_errors[k].get()},
                                                    {"rejected", rejected},
                                                    {"handshake_failures", failed}};
    }
    workers.push_back(std::move(w));
  }
  json errors = json::array();
  for (const auto& e : plane_.running() ? plane_.recent_errors() : std::vector<proxy::error_record>{}) {
    errors.push_back({{"time", iso8601(std::chrono::system_clock::to_time_t(e.time))},
                      {"listener", proxy::listener_name(e.listener)},
                      {"peer", e.peer},
                      {"reason", e.reason}});
  }
  json config = {{"bind", opts_.bind}, {"provisioning_port", opts_.provisioning_port}};
  if (provisioned_) {
    const provision_request& r = provisioned_->config;
    config["endpoint_port"] = r.endpoint_port;
    config["module_server_port"] = r.module_server_port;
    config["settings"] = settings_to_json(r.settings);
    config["module_server_ca"] = certs_json(r.module_server_ca);
    config["endpoint_client_ca"] = r.endpoint_client_ca ? certs_json(*r.endpoint_client_ca) : json(nullptr);
    config["certificates"] = certificates_json();
  }
  return {{"state", state_name(state_)},
          {"config", config},
          {"workers", workers},
          {"recent_errors", errors},
          {"limits",
           {{"settings", provisioned_ ? settings_to_json(provisioned_->config.settings) : json(nullptr)},
            {"drain_timeout_s", opts_.drain_timeout.count()},
            {"fd_limit", fd_limit()}}},
          {"fds", {{"open", open_fd_count()}, {"limit", fd_limit()}}},
          {"memory", {{"rss_bytes", resident_bytes()}}}};
}

json control_plane::sessions() {
  json list = json::array();
  for (const auto& s : plane_.list_sessions()) {
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

api_result<bool> control_plane::kill(std::string_view id) {
  auto sid = proxy::session_id::parse(id);
  if (!sid) return api_error{400, "bad_request", "id: expected 32 lowercase hex characters"};
  if (!plane_.kill(*sid)) return api_error{404, "not_found", "no live or waiting session with that id"};
  spdlog::info("event=session_killed session={}", sid->prefix());
  return true;
}

api_result<json> control_plane::rotate(const json& body) {
  auto parsed = parse_certificates(body, "certificates", validation());
  if (auto* e = std::get_if<field_error>(&parsed)) return bad_request(*e);
  provisioned_state next = *provisioned_;
  next.config.certificates = std::get<certificate_set>(std::move(parsed));
  auto cfg = build_config(next.config);
  if (!cfg.ok()) return api_error{400, "bad_request", message_of(cfg.status())};
  if (auto st = store_.save_provisioned(next); !st.ok()) return internal(st);
  provisioned_ = std::move(next);
  // New handshakes use the new certificates at once; live sessions keep their TLS.
  plane_.update(cfg->config);
  api_ctx_.store(cfg->api_ctx);
  spdlog::info("event=certificates_rotated");
  return json{{"certificates", certificates_json()}};
}

api_result<json> control_plane::update_settings(const json& body) {
  auto parsed = parse_settings(body, "settings", provisioned_->config.settings);
  if (auto* e = std::get_if<field_error>(&parsed)) return bad_request(*e);
  provisioned_state next = *provisioned_;
  next.config.settings = std::get<proxy::session_settings>(parsed);
  if (next.config.settings.max_pending > plane_.table_capacity()) {
    return api_error{400, "bad_request",
                     str_cat("settings.max_pending: at most ", plane_.table_capacity(),
                             " without re-provisioning (the pairing table is sized at provisioning)")};
  }
  auto current = plane_.config();
  auto cfg = std::make_shared<proxy::data_plane_config>(*current);
  cfg->settings = next.config.settings;
  if (auto st = store_.save_provisioned(next); !st.ok()) return internal(st);
  provisioned_ = std::move(next);
  plane_.update(cfg);
  spdlog::info("event=settings_changed");
  return json{{"settings", settings_to_json(provisioned_->config.settings)}};
}

json control_plane::trust() const {
  json revoked = json::array(), history = json::array();
  for (const auto& fp : trust_.revoked) revoked.push_back(fp);
  for (const auto& e : trust_.history) {
    history.push_back(
        {{"time", iso8601(e.time)}, {"action", e.action}, {"fingerprint", e.fingerprint}, {"subject", e.subject}});
  }
  json out = {{"revoked", revoked}, {"history", history}};
  out["trusted_cas"] = provisioned_ ? certs_json(provisioned_->config.module_server_ca) : json::array();
  out["endpoint_cas"] = provisioned_ && provisioned_->config.endpoint_client_ca
                            ? certs_json(*provisioned_->config.endpoint_client_ca)
                            : json::array();
  return out;
}

api_result<json> control_plane::revoke(const json& body) {
  auto parsed = parse_fingerprint(body);
  if (auto* e = std::get_if<field_error>(&parsed)) return bad_request(*e);
  const std::string fp = std::get<std::string>(parsed);
  if (!trust_.is_revoked(fp)) {
    trust_state next = trust_;
    next.revoked.push_back(fp);
    next.history.push_back({std::time(nullptr), "revoked", fp, ""});
    if (auto st = store_.save_trust(next); !st.ok()) return internal(st);
    trust_ = std::move(next);
    revoked_->replace(absl::flat_hash_set<std::string>(trust_.revoked.begin(), trust_.revoked.end()));
  }
  const std::size_t closed = plane_.running() ? plane_.close_revoked(fp) : 0;
  spdlog::info("event=certificate_revoked fingerprint={} sessions_closed={}", fp, closed);
  return json{{"revoked", fp}, {"sessions_closed", closed}};
}

api_result<json> control_plane::deprovision() {
  plane_.stop();  // closes every session and both listeners
  if (auto st = store_.remove_provisioned(); !st.ok()) return internal(st);
  provisioned_.reset();
  trust_state next = trust_;
  next.history.push_back({std::time(nullptr), "deprovisioned", "", ""});
  if (auto st = store_.save_trust(next); st.ok()) trust_ = std::move(next);
  auto token = store_.new_bootstrap_token();
  if (!token.ok()) return internal(token.status());
  token_ = std::move(*token);
  if (auto st = build_identity_api_ctx(); !st.ok()) return internal(st);
  state_ = state::unprovisioned;
  spdlog::info("event=deprovisioned token_file={}", log::q(store_.token_path().string()));
  return json{{"state", state_name(state_)}};
}

std::string control_plane::metrics() {
  metrics_input in;
  in.plane = &plane_;
  in.state = state_name(state_);
  if (provisioned_) {
    const auto& c = provisioned_->config.certificates;
    for (auto [pem, name] : {std::pair{&c.rsa, "rsa"}, std::pair{&c.ecdsa, "ecdsa"}}) {
      if (!*pem) continue;
      auto chain = parse_certificates_pem(**pem);
      if (chain.ok()) in.certificate_expiry.emplace_back(name, static_cast<double>(not_after(chain->front().get())));
    }
  }
  return render_metrics(in);
}

void control_plane::begin_drain(asio::io_context& io, std::function<void()> done) {
  state_ = state::draining;
  plane_.drain(io, std::move(done));
}

}  // namespace zp::provisioning
