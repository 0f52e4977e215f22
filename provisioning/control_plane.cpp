#include "provisioning/control_plane.hpp"

#include "common/atomic_file.hpp"
#include "common/fingerprint.hpp"
#include "common/log.hpp"
#include "common/pem.hpp"
#include "common/strings.hpp"
#include "provisioning/key_factory.hpp"
#include "provisioning/metrics.hpp"
#include "provisioning/x509_text.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

namespace zp::provisioning {
namespace {

using json = nlohmann::json;

api_error internal(const absl::Status& st) { return {500, "internal_error", message_of(st)}; }
api_error wrong_state(std::string_view why) { return {409, "wrong_state", std::string(why)}; }

}  // namespace

control_plane::control_plane(const state_store& store, identity id, state_store::data_plane_keys keys,
                             proxy::data_plane& plane, options opts)
    : store_(store), identity_(std::move(id)), keys_(std::move(keys)), plane_(plane), opts_(std::move(opts)) {}

validation_context control_plane::validation(const state_store::data_plane_keys& keys) const {
  return {keys.rsa.get(), keys.ecdsa.get(), opts_.provisioning_port, std::time(nullptr)};
}

void control_plane::record_trusted_cas() {
  trust_state next = trust_.with_trusted_cas(provisioned_->config.module_server_ca, provisioned_->provisioned_at);
  if (next.history.size() == trust_.state().history.size()) return;  // recorded already
  if (auto st = store_.save_trust(next); !st.ok()) {
    log_write_failed(st, "trust_history");
    return;
  }
  trust_.commit(std::move(next));
}

absl::StatusOr<provisioned_contexts> control_plane::build(const provision_request& req, const std::string& epoch,
                                                          const state_store::data_plane_keys& keys) const {
  return build_provisioned_contexts(req, keys, trust_.revoked(), opts_.local, {opts_.tickets, epoch});
}

std::string control_plane::new_trust_epoch() {
  unsigned char bytes[16] = {};
  RAND_bytes(bytes, sizeof bytes);  // a failure leaves zeros: the CA digest still changes with the CAs
  return to_hex(bytes, sizeof bytes);
}

absl::Status control_plane::serve_identity() {
  auto ctx = build_identity_context(identity_, {opts_.tickets, trust_epoch_});
  if (!ctx.ok()) return ctx.status();
  api_ctx_.store(*ctx);
  return absl::OkStatus();
}

proxy_facts control_plane::facts() const {
  return {state_name(state_),
          &opts_.local,
          opts_.provisioning_port,
          config(),
          plane_.ports(),
          std::chrono::duration_cast<std::chrono::seconds>(std::chrono::steady_clock::now() - started_)};
}

absl::Status control_plane::restore() {
  auto trust = store_.load_trust();
  if (!trust.ok()) return trust.status();
  trust_.commit(std::move(*trust));
  auto provisioned = store_.load_provisioned();
  if (!provisioned.ok()) return provisioned.status();
  if (!provisioned->has_value()) {
    auto token = store_.load_or_create_bootstrap_token();
    if (!token.ok()) return token.status();
    token_ = std::move(*token);
    state_ = state::unprovisioned;
    if (auto st = serve_identity(); !st.ok()) return st;
    spdlog::info("event=bootstrap_token_ready token_file={}", log::q(store_.token_path().string()));
    return absl::OkStatus();
  }
  provisioned_ = std::move(**provisioned);
  record_trusted_cas();
  auto pending = store_.load_pending_data_plane_keys();
  if (!pending.ok()) return pending.status();
  pending_keys_ = std::move(*pending);
  // The certificates must still belong to our keys; anything else is a damaged or
  // foreign state dir, and coming up with it would serve the wrong identity.
  for (auto [pem, key, name] : {std::tuple{&provisioned_->config.certificates.rsa, keys_.rsa.get(), "rsa"},
                                std::tuple{&provisioned_->config.certificates.ecdsa, keys_.ecdsa.get(), "ecdsa"}}) {
    if (*pem && !leaf_is_for_key(**pem, key)) {
      return absl::FailedPreconditionError(
          str_cat(store_.provisioned_path().string(), ": certificates.", name, " does not match the data-plane key"));
    }
  }
  auto contexts = build(provisioned_->config, trust_epoch_);
  if (!contexts.ok()) {
    return absl::FailedPreconditionError(
        str_cat(store_.provisioned_path().string(), ": ", contexts.status().message()));
  }
  if (auto st = plane_.start(contexts->data_plane); !st.ok()) return st;
  api_ctx_.store(contexts->api);
  operator_cas_ = contexts->operator_cas;
  state_ = state::provisioned;
  // A token left by a crash between the commit and its deletion dies now.
  if (auto st = store_.remove_bootstrap_token(); !st.ok()) return st;
  auto [ep, ms] = plane_.ports();
  spdlog::info("event=restored state=provisioned endpoint_port={} module_server_port={}", ep, ms);
  return absl::OkStatus();
}

void control_plane::audit(const audit_actor& who, std::string_view action, std::string_view details) const {
  spdlog::info("event=audit action={} client_subject={} client_sha256={} peer={} {}", action, log::q(who.subject),
               who.sha256.empty() ? "-" : who.sha256, who.peer, details);
}

bool control_plane::is_operator(X509* leaf, STACK_OF(X509) * chain) const {
  return chains_to(operator_cas_.get(), leaf, chain);
}

json control_plane::identity_json() const { return identity_view(state_name(state_), identity_); }

api_result<json> control_plane::provision(const json& body, const audit_actor& who) {
  if (state_ != state::unprovisioned) return wrong_state("already provisioned (deprovision first)");
  auto parsed = parse_provision(body, validation());
  if (auto* e = std::get_if<field_error>(&parsed)) return bad_request(*e);
  provision_request req = std::get<provision_request>(std::move(parsed));
  const std::string epoch = new_trust_epoch();
  auto contexts = build(req, epoch);
  if (!contexts.ok()) return api_error{400, "bad_request", message_of(contexts.status())};
  // Bind before committing: a taken port changes nothing (PROTOCOL.md 4.2).
  if (auto st = plane_.start(contexts->data_plane); !st.ok()) {
    return api_error{409, "port_unavailable", message_of(st)};
  }
  provisioned_state next{std::move(req), std::time(nullptr)};
  // provisioned.json is the commit point, so it is written first: a crash right after it
  // leaves a provisioning whose "trusted" history entries restore() writes (never
  // history for a provisioning that did not happen).
  if (auto st = store_.save_provisioned(next); !st.ok()) {
    plane_.stop();
    return write_failed(st, "provision");
  }
  provisioned_ = std::move(next);
  record_trusted_cas();
  if (auto removed = store_.remove_bootstrap_token(); !removed.ok()) {
    spdlog::error("event=token_removal_failed error={}", log::q(message_of(removed)));
  }
  token_.clear();
  trust_epoch_ = epoch;
  api_ctx_.store(contexts->api);
  operator_cas_ = contexts->operator_cas;
  state_ = state::provisioned;
  auto [ep, ms] = plane_.ports();
  audit(who, "provisioned", str_cat("endpoint_port=", ep, " module_server_port=", ms));
  return status();
}

api_error control_plane::write_failed(const absl::Status& st, std::string_view change) {
  log_write_failed(st, change);
  if (is_storage_failure(st)) return {503, "storage_unavailable", message_of(st)};
  return internal(st);
}

void control_plane::log_write_failed(const absl::Status& st, std::string_view change) {
  if (is_storage_failure(st)) ++storage_failures_;
  spdlog::error("event=state_write_failed change={} error={}", change, log::q(message_of(st)));
}

json control_plane::status() {
  json out = status_view(facts(), plane_.stats());
  out["keys"] = {{"pins", pins()}, {"pending_pins", pending_pins()}};
  return out;
}

json control_plane::diagnostics() {
  return diagnostics_view(facts(), plane_.stats(),
                          plane_.running() ? plane_.recent_errors() : std::vector<proxy::error_record>{});
}

json control_plane::sessions() { return sessions_view(plane_.list_sessions()); }

api_result<bool> control_plane::kill(std::string_view id, const audit_actor& who) {
  auto sid = proxy::session_id::parse(id);
  if (!sid && id.size() == 8 && id.find_first_not_of("0123456789abcdef") == std::string_view::npos) {
    // PROTOCOL.md 4.2 (1.1): the 8-character prefix /v1/sessions shows; several matches end
    // none.
    const auto matches = plane_.find_by_prefix(id);
    if (matches.empty()) return api_error{404, "not_found", "no live or waiting session with that prefix"};
    if (matches.size() > 1) {
      return api_error{409, "ambiguous", str_cat(matches.size(), " sessions start with ", id, "; give the whole id")};
    }
    sid = matches.front();
  }
  if (!sid) return api_error{400, "bad_request", "id: expected 32 lowercase hex characters, or the 8-character prefix"};
  if (!plane_.kill(*sid)) return api_error{404, "not_found", "no live or waiting session with that id"};
  audit(who, "session_killed", str_cat("session=", sid->prefix()));
  return true;
}

api_result<json> control_plane::update_settings(const json& body, const audit_actor& who) {
  auto parsed = parse_settings(body, "settings", provisioned_->config.settings);
  if (auto* e = std::get_if<field_error>(&parsed)) return bad_request(*e);
  provisioned_state next = *provisioned_;
  next.config.settings = std::get<proxy::session_settings>(parsed);
  auto current = plane_.config();
  auto cfg = std::make_shared<proxy::data_plane_config>(*current);
  cfg->settings = next.config.settings;
  // What changed, old and new, for the audit line.
  std::string changes;
  const json before = settings_to_json(provisioned_->config.settings), after = settings_to_json(cfg->settings);
  for (const auto& [key, value] : after.items()) {
    if (before.value(key, json()) != value)
      str_append(changes, changes.empty() ? "" : " ", key, "=", before[key].dump(), "->", value.dump());
  }
  if (auto st = store_.save_provisioned(next); !st.ok()) return write_failed(st, "settings");
  provisioned_ = std::move(next);
  plane_.update(cfg);
  audit(who, "settings_changed", changes.empty() ? "none" : changes);
  return json{{"settings", settings_to_json(provisioned_->config.settings)}};
}

json control_plane::trust_json() const { return trust_view(trust_.state(), config()); }

api_result<json> control_plane::revoke(const json& body, const audit_actor& who) {
  auto parsed = parse_fingerprint(body);
  if (auto* e = std::get_if<field_error>(&parsed)) return bad_request(*e);
  const std::string fp = std::get<std::string>(parsed);
  if (!trust_.is_revoked(fp)) {
    trust_state next = trust_.with_revoked(fp);
    if (auto st = store_.save_trust(next); !st.ok()) return write_failed(st, "revoke");
    trust_.commit(std::move(next));
  }
  const std::size_t closed = plane_.running() ? plane_.close_revoked(fp) : 0;
  // PROTOCOL.md 4.2: also 17488 connections of that certificate, idle or not.
  if (api_ != nullptr) api_->close_untrusted([&](X509* cert, STACK_OF(X509)*) { return cert_sha256_hex(cert) != fp; });
  audit(who, "certificate_revoked", str_cat("fingerprint=", fp, " sessions_closed=", closed));
  return json{{"revoked", fp}, {"sessions_closed", closed}};
}

api_result<json> control_plane::deprovision(const audit_actor& who) {
  // A transaction: everything that can fail is prepared first, then provisioned.json goes
  // (the commit point), then the rest cannot fail. A failure before the commit changes
  // nothing: the data plane keeps running and the state stays provisioned.
  const std::string epoch = new_trust_epoch();
  auto identity_ctx = build_identity_context(identity_, {opts_.tickets, epoch});
  if (!identity_ctx.ok()) return internal(identity_ctx.status());
  // The token is written before the commit; a crash in between leaves it beside
  // provisioned.json, and restore() deletes it.
  auto token = store_.new_bootstrap_token();
  if (!token.ok()) return write_failed(token.status(), "deprovision");
  if (auto st = store_.remove_provisioned(); !st.ok()) {
    if (auto removed = store_.remove_bootstrap_token(); !removed.ok()) {
      spdlog::error("event=token_removal_failed error={}", log::q(message_of(removed)));
    }
    return write_failed(st, "deprovision");
  }
  plane_.stop();  // closes every session and both listeners
  provisioned_.reset();
  token_ = std::move(*token);
  trust_epoch_ = epoch;
  api_ctx_.store(*identity_ctx);
  operator_cas_.reset();
  state_ = state::unprovisioned;
  // PROTOCOL.md 4.2: no certificate is trusted any more; the caller's own connection is
  // closed after this answer.
  if (api_ != nullptr) api_->close_untrusted([](X509*, STACK_OF(X509)*) { return false; });
  trust_state next = trust_.with_event("deprovisioned");
  if (auto st = store_.save_trust(next); st.ok()) {
    trust_.commit(std::move(next));
  } else {
    log_write_failed(st, "trust_history");
  }
  audit(who, "deprovisioned", str_cat("token_file=", log::q(store_.token_path().string())));
  return json{{"state", state_name(state_)}};
}

api_result<json> control_plane::replace_cas(const json& body, const audit_actor& who) {
  const std::time_t now = std::time(nullptr);
  auto parsed = parse_trust_cas(body, provisioned_->config, now);
  if (auto* e = std::get_if<field_error>(&parsed)) return bad_request(*e);
  provisioned_state next = *provisioned_;
  next.config = std::get<provision_request>(std::move(parsed));
  const std::string epoch = new_trust_epoch();
  auto contexts = build(next.config, epoch);
  if (!contexts.ok()) return api_error{400, "bad_request", message_of(contexts.status())};
  // PROTOCOL.md 4.2: the caller must keep its own rights, or nobody may be left to undo it.
  if (!chains_to(contexts->operator_cas.get(), who.cert, who.chain)) {
    return api_error{409, "would_lock_out",
                     "your own certificate would no longer chain to the Module Server CA: nothing was changed"};
  }
  trust_state trust = trust_.state();
  record_ca_change(trust, provisioned_->config.module_server_ca, next.config.module_server_ca, now);
  record_ca_change(trust, provisioned_->config.observer_ca, next.config.observer_ca, now);
  if (auto st = store_.save_provisioned(next); !st.ok()) return write_failed(st, "trust_cas");  // the commit point
  provisioned_ = std::move(next);
  if (auto st = store_.save_trust(trust); st.ok()) {
    trust_.commit(std::move(trust));
  } else {
    log_write_failed(st, "trust_history");
  }
  trust_epoch_ = epoch;
  plane_.update(contexts->data_plane);
  api_ctx_.store(contexts->api);
  operator_cas_ = contexts->operator_cas;
  // Live sessions and 17488 connections whose certificates no longer chain are closed.
  auto operators = contexts->operator_cas, observers = contexts->observer_cas;
  const std::size_t sessions = plane_.running()
                                   ? plane_.close_untrusted([operators](X509* leaf, STACK_OF(X509) * chain) {
                                       return chains_to(operators.get(), leaf, chain);
                                     })
                                   : 0;
  if (api_ != nullptr) {
    api_->close_untrusted([&](X509* leaf, STACK_OF(X509) * chain) {
      return chains_to(operators.get(), leaf, chain) || chains_to(observers.get(), leaf, chain);
    });
  }
  audit(who, "cas_replaced", str_cat("sessions_closed=", sessions));
  return trust_json();
}

std::string control_plane::metrics() {
  const proxy::plane_stats stats = plane_.stats();
  metrics_input in;
  in.stats = &stats;
  for (std::size_t r = 0; api_ != nullptr && r < in.api_refused.size(); ++r) {
    in.api_refused[r] = api_->refused(api_refusal(r));
  }
  for (std::size_t e = 0; e < in.api_accept_errors.size(); ++e) {
    if (api_ != nullptr) in.api_accept_errors[e] = api_->accept_errors(accept_error(e));
    if (metrics_listener_ != nullptr) {
      if (!in.metrics_accept_errors) in.metrics_accept_errors.emplace();
      (*in.metrics_accept_errors)[e] = metrics_listener_->accept_errors(accept_error(e));
    }
  }
  in.state = state_;
  in.state_write_failures = storage_failures_.load();
  in.key_rotation_pending = pending_keys_.has_value();
  in.config = config();
  in.fd_reserve = plane_.fd_reserve();
  return render_metrics(in);
}

void control_plane::begin_drain(asio::io_context& io, std::function<void()> done) {
  state_ = state::draining;
  plane_.drain(io, std::move(done));
}

}  // namespace zp::provisioning
