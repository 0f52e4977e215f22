#pragma once
// The TLS contexts a provisioned state runs on, built from it in one place: 17486's and
// 17487's (inside the data plane's configuration snapshot) and 17488's, all under the
// policy of PROTOCOL.md 2 (common/tls_policy), with the Module Server CA and the
// revocation set on 17487 and 17488. Before provisioning, 17488 serves the identity.
//
// Pure construction: nothing here is published; the control plane swaps the results in.

#include "common/ticket_keys.hpp"
#include "provisioning/provision_request.hpp"
#include "provisioning/state_store.hpp"
#include "provisioning/trust.hpp"
#include "proxy/data_plane_config.hpp"

#include <absl/status/statusor.h>
#include <openssl/ssl.h>

#include <chrono>
#include <memory>
#include <string>

namespace zp::provisioning {

/// The daemon's local settings a data-plane configuration carries beside the provision.
struct local_settings {
  std::string endpoint_bind = "0.0.0.0";
  std::string module_server_bind = "0.0.0.0";
  std::string provisioning_bind = "0.0.0.0";
  std::chrono::seconds drain_timeout{30};
};

/// Session tickets for the contexts built (PROTOCOL.md 2): the process's key ring (null:
/// no tickets) and the trust epoch, a value the control plane replaces at every change of
/// trust that the CAs alone do not show (provisioning, deprovisioning), so that no
/// ticket outlives it.
struct ticket_policy {
  std::shared_ptr<ticket_key_ring> ring;
  std::string trust_epoch;
};

/// A provisioned state's data-plane configuration and 17488's context, and the Module
/// Server CAs alone, which tell an operator's certificate from an observer's (4.5).
struct provisioned_contexts {
  std::shared_ptr<const proxy::data_plane_config> data_plane;
  std::shared_ptr<SSL_CTX> api;
  std::shared_ptr<X509_STORE> operator_cas;
  std::shared_ptr<X509_STORE> observer_cas;  // null without observer_ca
};

/// Builds both; an error names what could not be used (a certificate that does not parse).
absl::StatusOr<provisioned_contexts> build_provisioned_contexts(const provision_request& req,
                                                                const state_store::data_plane_keys& keys,
                                                                const std::shared_ptr<revocation_set>& revoked,
                                                                const local_settings& local,
                                                                const ticket_policy& tickets);

/// 17488's context while unprovisioned: the self-signed identity, no client certificate.
absl::StatusOr<std::shared_ptr<SSL_CTX>> build_identity_context(const identity& id, const ticket_policy& tickets);

}  // namespace zp::provisioning
