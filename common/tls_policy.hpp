#pragma once
// PROTOCOL.md section 2 as one piece: every listener's SSL_CTX comes from here, so the
// policy (TLS 1.2 only, four ECDHE-GCM suites, three groups, no compression, no
// renegotiation) cannot drift between ports.

#include "common/openssl_ptr.hpp"

#include <absl/status/statusor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zp {

/// The only suites ever negotiated (OpenSSL names), in server preference order.
inline constexpr const char* k_tls_cipher_list =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384";
/// The only ECDHE groups offered or accepted.
inline constexpr const char* k_tls_groups = "X25519:P-256:P-384";
/// What the proxy signs its handshakes with, and what its clients accept from a server:
/// the proxy's keys are ECDSA P-256 and RSA (PROTOCOL.md 2), and SHA-256 serves all four
/// suites. A shorter list is less for every handshake to match.
inline constexpr const char* k_tls_server_sigalgs = "ecdsa_secp256r1_sha256:rsa_pss_rsae_sha256:rsa_pkcs1_sha256";
/// What a client certificate's handshake signature may use (the CertificateRequest):
/// the contract does not fix the Module Server's or the observer's key type, so every
/// ECDSA curve and RSA padding OpenSSL verifies with SHA-2, and nothing with SHA-1.
inline constexpr const char* k_tls_client_sigalgs =
    "ecdsa_secp256r1_sha256:ecdsa_secp384r1_sha384:ecdsa_secp521r1_sha512:"
    "rsa_pss_rsae_sha256:rsa_pss_rsae_sha384:rsa_pss_rsae_sha512:"
    "rsa_pkcs1_sha256:rsa_pkcs1_sha384:rsa_pkcs1_sha512";

/// A private key and its certificate chain (leaf first).
struct tls_identity {
  evp_pkey_ptr key;
  std::vector<x509_ptr> chain;
};

class ticket_key_ring;

/// Extra check on a verified client certificate chain's leaf; false refuses the
/// handshake. Called on the handshaking thread; must be thread-safe and non-blocking.
using client_cert_check = std::function<bool(X509* leaf)>;

/// What a server context is made of.
struct server_tls_options {
  /// One identity per key type (RSA and/or ECDSA); OpenSSL serves whichever the
  /// negotiated suite needs.
  std::vector<const tls_identity*> identities;
  /// Trusted client CAs; when set, a client certificate chained to them is required.
  std::vector<X509*> client_cas;
  /// Optional revocation hook, consulted only when client_cas is set.
  client_cert_check client_check;
  /// With client_cas set: false lets a client without a certificate finish the
  /// handshake (the application then closes it unanswered); a certificate that is sent
  /// must still verify. 17488 uses this so a plain `openssl s_client` still reaches it.
  bool client_cert_required = true;
  /// Session tickets (PROTOCOL.md 2): sealed with this ring's keys; none when null.
  std::shared_ptr<ticket_key_ring> tickets;
  /// With tickets: what a ticket must have been issued under to resume here (the port
  /// and the trust in force). A ticket from another context resumes only if its value
  /// was the same; OpenSSL compares its SHA-256 (the session id context).
  std::string session_context;
};

/// Builds a server SSL_CTX with the section-2 policy.
absl::StatusOr<ssl_ctx_ptr> make_server_ctx(const server_tls_options& options);

/// Builds a client SSL_CTX with the same policy (for zoneproxyctl, the bench harness
/// and tests that play a well-behaved peer). `identity` may be null (no client cert);
/// `trusted` may be empty (no server verification: the caller pins instead).
absl::StatusOr<ssl_ctx_ptr> make_client_ctx(const tls_identity* identity, const std::vector<X509*>& trusted);

/// Whether `leaf` (with the chain its client sent, which may be null) chains to a CA of
/// `cas` as a TLS client certificate, now (false for a null store or leaf).
bool chains_to(X509_STORE* cas, X509* leaf, STACK_OF(X509) * chain);

/// Parses a key and a PEM chain into an identity and checks they belong together.
absl::StatusOr<tls_identity> make_tls_identity(std::string_view key_pem, std::string_view chain_pem);

}  // namespace zp
