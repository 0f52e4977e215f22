#pragma once
// The proxy's provisioning state machine (PROTOCOL.md 4): unprovisioned → provisioned
// → (draining | unprovisioned). Owns what is provisioned, applies every change to the
// data plane and to 17488's TLS context, and persists it (4.3) before answering.
//
// Owner: the daemon. Runs on the control thread only (the API server's handlers and
// the signal handler), so its own state needs no locks; the TLS contexts and the
// revocation set it publishes are read by other threads through atomic snapshots.

#include "common/strings.hpp"
#include "provisioning/api_server.hpp"
#include "provisioning/api_types.hpp"
#include "provisioning/api_views.hpp"
#include "provisioning/metrics_listener.hpp"
#include "provisioning/provision_request.hpp"
#include "provisioning/provisioned_state.hpp"
#include "provisioning/provisioning_state.hpp"
#include "provisioning/state_store.hpp"
#include "provisioning/tls_contexts.hpp"
#include "provisioning/trust.hpp"
#include "proxy/data_plane.hpp"

#include <absl/status/status.h>
#include <asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace zp::provisioning {

/// An answer other than success, in the JSON error shape.
struct api_error {
  int status;
  std::string code;
  std::string message;
};
template <typename T>
using api_result = std::variant<T, api_error>;
/// A 400 naming the field at fault.
inline api_error bad_request(const field_error& e) { return {400, "bad_request", str_cat(e.field, ": ", e.message)}; }

/// Who asked for a change, for the audit line every change writes.
struct audit_actor {
  std::string subject;               // the client certificate's subject, or "bootstrap-token"
  std::string sha256;                // its fingerprint, or empty
  std::string peer;                  // "ip:port"
  X509* cert = nullptr;              // the certificate itself (not owned; during the call)
  STACK_OF(X509) * chain = nullptr;  // and the chain its client sent
};

class control_plane {
 public:
  using state = provisioning_state;

  struct options {
    local_settings local;
    std::uint16_t provisioning_port = 17488;
    /// Session tickets on all three ports (PROTOCOL.md 2); none when null.
    std::shared_ptr<ticket_key_ring> tickets;
  };

  control_plane(const state_store& store, identity id, state_store::data_plane_keys keys, proxy::data_plane& plane,
                options opts);

  /// At start: comes back in the state last acknowledged (provisioned → data plane up
  /// on the same ports). Errors name the file or port at fault.
  absl::Status restore();
  /// The provisioning port actually bound (tests start on port 0).
  void set_provisioning_port(std::uint16_t port) { opts_.provisioning_port = port; }

  /// 17488's context for a new connection.
  std::shared_ptr<SSL_CTX> api_ctx() const { return api_ctx_.load(); }
  /// Whether a client certificate (SHA-256) is revoked now.
  bool is_revoked(const std::string& fingerprint) const { return trust_.is_revoked(fingerprint); }
  /// Whether a trusted client certificate is an operator's (chains to the Module Server
  /// CA: every right) rather than an observer's (PROTOCOL.md 4.5: read only).
  bool is_operator(X509* leaf, STACK_OF(X509) * chain) const;

  state current() const { return state_; }
  const std::string& bootstrap_token() const { return token_; }

  // The operations of PROTOCOL.md 4.2; each returns the JSON body of its 200.
  nlohmann::json identity_json() const;
  api_result<nlohmann::json> csr(const csr_request& req) const;
  api_result<nlohmann::json> provision(const nlohmann::json& body, const audit_actor& who);
  nlohmann::json status();
  nlohmann::json diagnostics();
  nlohmann::json sessions();
  api_result<bool> kill(std::string_view id, const audit_actor& who);
  /// PUT /v1/certificates. Certificates for the pending keys of a key rotation commit it.
  api_result<nlohmann::json> rotate(const nlohmann::json& body, const audit_actor& who);
  /// POST /v1/keys/rotate (README "Rotating keys"; PROTOCOL.md is silent on it): new
  /// pending data-plane keys (or the ones pending already, unless "regenerate") and CSRs
  /// for them. The keys in force stay in force until PUT /v1/certificates installs
  /// certificates for the pending ones.
  api_result<nlohmann::json> rotate_keys(const nlohmann::json& body, const audit_actor& who);
  api_result<nlohmann::json> update_settings(const nlohmann::json& body, const audit_actor& who);
  nlohmann::json trust_json() const;
  api_result<nlohmann::json> revoke(const nlohmann::json& body, const audit_actor& who);
  api_result<nlohmann::json> deprovision(const audit_actor& who);
  /// PUT /v1/trust/cas (1.1): replaces the Module Server CA set and/or the observer CA set.
  api_result<nlohmann::json> replace_cas(const nlohmann::json& body, const audit_actor& who);
  std::string metrics();

  /// The 17488 server, whose connections are closed when trust shrinks (revocation,
  /// deprovisioning) and whose refusals /metrics shows; may stay unset (tests).
  void attach_api(api_server* api) { api_ = api; }
  /// The plain metrics port, when it listens, whose failed accepts /metrics shows.
  void attach_metrics_listener(const metrics_listener* listener) { metrics_listener_ = listener; }

  /// SIGTERM: draining (PROTOCOL.md 3.5); `done` runs on `io` when the data plane is
  /// finished.
  void begin_drain(asio::io_context& io, std::function<void()> done);

  /// The data-plane keys' SPKI SHA-256s, {"rsa", "ecdsa"} (what zoneproxyctl --pin takes
  /// once provisioned).
  nlohmann::json pins() const;

 private:
  validation_context validation(const state_store::data_plane_keys& keys) const;
  validation_context validation() const { return validation(keys_); }
  const provision_request* config() const { return provisioned_ ? &provisioned_->config : nullptr; }
  // The contexts of `req`, under trust epoch `epoch` (trust_epoch_, or a new one for a
  // change of trust, committed only once the change is).
  absl::StatusOr<provisioned_contexts> build(const provision_request& req, const std::string& epoch) const {
    return build(req, epoch, keys_);
  }
  absl::StatusOr<provisioned_contexts> build(const provision_request& req, const std::string& epoch,
                                             const state_store::data_plane_keys& keys) const;
  nlohmann::json pending_pins() const;  // null when no rotation is under way
  absl::Status serve_identity();
  // Writes the "trusted" history entries of the provisioned Module Server CAs unless the
  // history has them since the provisioning (a crash may have come in between).
  void record_trusted_cas();
  // The audit line of a change: who (client certificate subject and fingerprint, or the
  // bootstrap token) did what, from where.
  void audit(const audit_actor& who, std::string_view action, std::string_view details) const;
  proxy_facts facts() const;
  // A change the state directory did not take: PROTOCOL.md 4.3 (1.2) 503
  // storage_unavailable when the disk refused it (500 internal_error for anything else),
  // logged and counted. The caller has changed nothing yet.
  api_error write_failed(const absl::Status& st, std::string_view change);
  // The same for a write after the commit point (trust history): logged and counted only.
  void log_write_failed(const absl::Status& st, std::string_view change);

  const state_store& store_;
  identity identity_;
  state_store::data_plane_keys keys_;
  std::optional<state_store::data_plane_keys> pending_keys_;  // a key rotation under way
  proxy::data_plane& plane_;
  options opts_;
  state state_ = state::unprovisioned;
  std::optional<provisioned_state> provisioned_;
  trust_registry trust_;
  std::string token_;
  api_server* api_ = nullptr;
  const metrics_listener* metrics_listener_ = nullptr;
  std::atomic<std::shared_ptr<SSL_CTX>> api_ctx_;
  std::shared_ptr<X509_STORE> operator_cas_;  // set with api_ctx_ while provisioned
  // Part of every ticket's session context: replaced at each change of trust, so that no
  // ticket outlives one. Random at start (a restart also forgets the ticket keys).
  std::string trust_epoch_ = new_trust_epoch();
  static std::string new_trust_epoch();
  std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
  std::atomic<std::uint64_t> storage_failures_{0};  // zoneproxy_state_write_failures_total (read by scrapes)
};

}  // namespace zp::provisioning
