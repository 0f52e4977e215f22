#include "provisioning/tls_contexts.hpp"

#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "common/strings.hpp"

#include <utility>
#include <vector>

namespace zp::provisioning {
namespace {

evp_pkey_ptr share(EVP_PKEY* key) {
  EVP_PKEY_up_ref(key);
  return evp_pkey_ptr(key);
}

std::shared_ptr<SSL_CTX> shared(ssl_ctx_ptr ctx) { return std::shared_ptr<SSL_CTX>(ctx.release(), SSL_CTX_free); }

// The certificates of an optional CA field; none when it is absent.
absl::StatusOr<std::vector<x509_ptr>> optional_cas(const std::optional<std::string>& pem) {
  if (!pem) return std::vector<x509_ptr>();
  return parse_certificates_pem(*pem);
}

// A verification store of these CAs, chains ending at any of them trusted (as in the
// handshake, common/tls_policy); null when there are none.
std::shared_ptr<X509_STORE> store_of(const std::vector<x509_ptr>& cas) {
  if (cas.empty()) return nullptr;
  std::shared_ptr<X509_STORE> store(X509_STORE_new(), X509_STORE_free);
  X509_STORE_set_flags(store.get(), X509_V_FLAG_PARTIAL_CHAIN);
  for (const auto& c : cas) X509_STORE_add_cert(store.get(), c.get());
  return store;
}

// What a ticket must have been issued under to resume on a port: the port, the trust
// epoch, and the exact CAs it trusts (DER, in order). Any change of those makes every
// older ticket of the port fail to resume (PROTOCOL.md 2).
std::string session_context(std::string_view port, const ticket_policy& tickets, const std::vector<X509*>& cas) {
  std::string out = str_cat("zoneproxy session context\n", port, "\n", tickets.trust_epoch, "\n");
  for (X509* ca : cas) {
    unsigned char* der = nullptr;
    const int n = i2d_X509(ca, &der);
    if (n > 0) out.append(reinterpret_cast<const char*>(der), static_cast<std::size_t>(n));
    OPENSSL_free(der);
    out += '\n';
  }
  return out;
}

void use_tickets(server_tls_options& o, std::string_view port, const ticket_policy& tickets) {
  if (!tickets.ring) return;
  o.tickets = tickets.ring;
  o.session_context = session_context(port, tickets, o.client_cas);
}

}  // namespace

absl::StatusOr<provisioned_contexts> build_provisioned_contexts(const provision_request& req,
                                                                const state_store::data_plane_keys& keys,
                                                                const std::shared_ptr<revocation_set>& revoked,
                                                                const local_settings& local,
                                                                const ticket_policy& tickets) {
  std::vector<tls_identity> ids;
  for (auto [pem, key] :
       {std::pair{&req.certificates.rsa, keys.rsa.get()}, std::pair{&req.certificates.ecdsa, keys.ecdsa.get()}}) {
    if (!*pem) continue;
    auto chain = parse_certificates_pem(**pem);
    if (!chain.ok()) return chain.status();
    ids.push_back(tls_identity{share(key), std::move(*chain)});
  }
  auto ms_cas = parse_certificates_pem(req.module_server_ca);
  if (!ms_cas.ok()) return ms_cas.status();
  auto ep_cas = optional_cas(req.endpoint_client_ca);
  if (!ep_cas.ok()) return ep_cas.status();
  server_tls_options ep, ms;
  for (auto& id : ids) {
    ep.identities.push_back(&id);
    ms.identities.push_back(&id);
  }
  for (auto& c : *ep_cas) ep.client_cas.push_back(c.get());
  for (auto& c : *ms_cas) ms.client_cas.push_back(c.get());
  // Revocation (PROTOCOL.md 4.2) is checked in every handshake on 17487 and 17488.
  ms.client_check = [revoked](X509* leaf) { return !revoked->contains(cert_sha256_hex(leaf)); };
  use_tickets(ep, "endpoint", tickets);
  use_tickets(ms, "module_server", tickets);
  auto ep_ctx = make_server_ctx(ep);
  if (!ep_ctx.ok()) return ep_ctx.status();
  auto ms_ctx = make_server_ctx(ms);
  if (!ms_ctx.ok()) return ms_ctx.status();
  // 17488: the same trust and revocation, plus the observers' CAs (PROTOCOL.md 4.5; never
  // on 17487); a client without a certificate finishes the handshake and is then closed
  // unanswered (4.2).
  auto observer_cas = optional_cas(req.observer_ca);
  if (!observer_cas.ok()) return observer_cas.status();
  server_tls_options api = ms;
  for (auto& c : *observer_cas) api.client_cas.push_back(c.get());
  api.client_cert_required = false;
  use_tickets(api, "provisioning", tickets);
  auto api_ctx = make_server_ctx(api);
  if (!api_ctx.ok()) return api_ctx.status();
  auto cfg = std::make_shared<proxy::data_plane_config>();
  cfg->endpoint_bind = local.endpoint_bind;
  cfg->module_server_bind = local.module_server_bind;
  cfg->endpoint_port = req.endpoint_port;
  cfg->module_server_port = req.module_server_port;
  cfg->settings = req.settings;
  cfg->drain_timeout = local.drain_timeout;
  cfg->is_revoked = [revoked](const std::string& fingerprint) { return revoked->contains(fingerprint); };
  cfg->endpoint_ctx = shared(std::move(*ep_ctx));
  cfg->module_server_ctx = shared(std::move(*ms_ctx));
  return provisioned_contexts{std::move(cfg), shared(std::move(*api_ctx)), store_of(*ms_cas), store_of(*observer_cas)};
}

absl::StatusOr<std::shared_ptr<SSL_CTX>> build_identity_context(const identity& id, const ticket_policy& tickets) {
  server_tls_options o;
  o.identities = {&id.rsa, &id.ecdsa};
  use_tickets(o, "provisioning unprovisioned", tickets);
  auto ctx = make_server_ctx(o);
  if (!ctx.ok()) return ctx.status();
  return shared(std::move(*ctx));
}

}  // namespace zp::provisioning
