#include "common/tls_policy.hpp"

#include "common/pem.hpp"
#include "common/ticket_keys.hpp"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <ctime>

#include "common/strings.hpp"

namespace zp {
namespace {

// Index of the ex_data slot holding a heap-allocated client_cert_check; freed with
// the SSL_CTX by free_check().
int check_ex_index() {
  static const int index = SSL_CTX_get_ex_new_index(
      0, nullptr, nullptr, nullptr,
      [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) { delete static_cast<client_cert_check*>(ptr); });
  return index;
}

int verify_callback(int preverify_ok, X509_STORE_CTX* store_ctx) {
  if (!preverify_ok) return 0;
  // Only the leaf (depth 0) is checked against the revocation hook: revocation in
  // PROTOCOL.md 4.2 is by client certificate fingerprint.
  if (X509_STORE_CTX_get_error_depth(store_ctx) != 0) return 1;
  auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store_ctx, SSL_get_ex_data_X509_STORE_CTX_idx()));
  auto* check = static_cast<client_cert_check*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), check_ex_index()));
  if (check && *check && !(*check)(X509_STORE_CTX_get_current_cert(store_ctx))) {
    X509_STORE_CTX_set_error(store_ctx, X509_V_ERR_CERT_REVOKED);
    return 0;
  }
  return 1;
}

// What a ticket carries besides the session (its app data, sealed with the session):
// when the client certificate's verified chain is valid, as seconds since the epoch.
// The full handshake proved the chain; while the trust in force is the same (the
// session id context, a digest of it, must match for any ticket to resume), the chain's
// signatures still hold and only the clock can change the verdict. So a resumed
// handshake checks this window and the revocation hook instead of building and
// verifying the chain again (an ECDSA or RSA verification per certificate).
constexpr unsigned char k_validity_tag[4] = {'z', 'p', 'v', '1'};
constexpr std::size_t k_validity_size = sizeof k_validity_tag + 16;

// Seconds from `epoch` (the time 0) to `t`, by OpenSSL's own arithmetic (timegm is not
// on Windows).
bool to_epoch(const ASN1_TIME* epoch, const ASN1_TIME* t, std::int64_t& out) {
  int days = 0, seconds = 0;
  if (ASN1_TIME_diff(&days, &seconds, epoch, t) != 1) return false;
  out = static_cast<std::int64_t>(days) * 86400 + seconds;
  return true;
}

// Called as OpenSSL builds a ticket: a full handshake's session gets the window of the
// chain it just verified. A renewed ticket's session already has one (a resumed
// handshake verifies nothing) and keeps it.
int stamp_ticket(SSL* ssl, void*) {
  STACK_OF(X509)* chain = SSL_get0_verified_chain(ssl);
  if (chain == nullptr || sk_X509_num(chain) == 0) return 1;
  std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)> epoch(ASN1_TIME_set(nullptr, 0), ASN1_TIME_free);
  if (!epoch) return 1;
  std::int64_t not_before = INT64_MIN, not_after = INT64_MAX;
  for (int i = 0; i < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    std::int64_t nb = 0, na = 0;
    if (!to_epoch(epoch.get(), X509_get0_notBefore(cert), nb) || !to_epoch(epoch.get(), X509_get0_notAfter(cert), na)) {
      return 1;
    }
    not_before = std::max(not_before, nb);
    not_after = std::min(not_after, na);
  }
  unsigned char data[k_validity_size];
  std::memcpy(data, k_validity_tag, sizeof k_validity_tag);
  for (int i = 0; i < 8; ++i) {
    data[4 + i] = static_cast<unsigned char>(static_cast<std::uint64_t>(not_before) >> (56 - 8 * i));
    data[12 + i] = static_cast<unsigned char>(static_cast<std::uint64_t>(not_after) >> (56 - 8 * i));
  }
  SSL_SESSION_set1_ticket_appdata(SSL_get0_session(ssl), data, sizeof data);
  return 1;
}

// Whether a ticket's session says its chain is valid now. No window (a ticket issued
// without a verified chain) is a no.
bool valid_now(SSL_SESSION* session) {
  void* data = nullptr;
  size_t size = 0;
  if (SSL_SESSION_get0_ticket_appdata(session, &data, &size) != 1 || size != k_validity_size ||
      std::memcmp(data, k_validity_tag, sizeof k_validity_tag) != 0) {
    return false;
  }
  const auto* p = static_cast<const unsigned char*>(data);
  std::uint64_t nb = 0, na = 0;
  for (int i = 0; i < 8; ++i) {
    nb = (nb << 8) | p[4 + i];
    na = (na << 8) | p[12 + i];
  }
  const auto now = static_cast<std::int64_t>(std::time(nullptr));
  return static_cast<std::int64_t>(nb) <= now && now <= static_cast<std::int64_t>(na);
}

// A resumed TLS 1.2 handshake runs no verify callback: the session's client certificate
// is judged here instead, as a full handshake would judge it, before OpenSSL accepts
// the ticket (PROTOCOL.md 2: revoked, expired, or from before a change of trust). One
// that fails is ignored, and the client gets a full handshake, which refuses it with
// the alert of 4.2.
SSL_TICKET_RETURN judge_ticket(SSL* ssl, SSL_SESSION* session, const unsigned char*, size_t, SSL_TICKET_STATUS status,
                               void*) {
  switch (status) {
    case SSL_TICKET_FATAL_ERR_MALLOC:
    case SSL_TICKET_FATAL_ERR_OTHER:
      return SSL_TICKET_RETURN_ABORT;
    case SSL_TICKET_SUCCESS:
    case SSL_TICKET_SUCCESS_RENEW:
      break;
    default:  // none, empty, or not ours: a full handshake and a new ticket
      return SSL_TICKET_RETURN_IGNORE_RENEW;
  }
  SSL_CTX* ctx = SSL_get_SSL_CTX(ssl);
  if ((SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_PEER) != 0) {
    X509* leaf = SSL_SESSION_get0_peer(session);
    const bool required = (SSL_CTX_get_verify_mode(ctx) & SSL_VERIFY_FAIL_IF_NO_PEER_CERT) != 0;
    if (leaf == nullptr && required) return SSL_TICKET_RETURN_IGNORE_RENEW;
    if (leaf != nullptr) {
      auto* check = static_cast<client_cert_check*>(SSL_CTX_get_ex_data(ctx, check_ex_index()));
      if (!valid_now(session) || (check && *check && !(*check)(leaf))) return SSL_TICKET_RETURN_IGNORE_RENEW;
    }
  }
  return status == SSL_TICKET_SUCCESS_RENEW ? SSL_TICKET_RETURN_USE_RENEW : SSL_TICKET_RETURN_USE;
}

absl::Status apply_common_policy(SSL_CTX* ctx) {
  if (!SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) || !SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION)) {
    return absl::InternalError("cannot pin TLS 1.2");
  }
  if (!SSL_CTX_set_cipher_list(ctx, k_tls_cipher_list)) {
    return absl::InternalError(str_cat("cipher list refused: ", openssl_error_string()));
  }
  // TLS 1.3 is refused by the version pin; emptying its suites as well keeps the
  // context's cipher list exactly the four below.
  if (!SSL_CTX_set_ciphersuites(ctx, "")) {
    return absl::InternalError(str_cat("TLS 1.3 suites refused: ", openssl_error_string()));
  }
  if (!SSL_CTX_set1_groups_list(ctx, k_tls_groups)) {
    return absl::InternalError(str_cat("groups refused: ", openssl_error_string()));
  }
  if (!SSL_CTX_set1_sigalgs_list(ctx, k_tls_server_sigalgs) ||
      !SSL_CTX_set1_client_sigalgs_list(ctx, k_tls_client_sigalgs)) {
    return absl::InternalError(str_cat("signature algorithms refused: ", openssl_error_string()));
  }
  // Defence in depth: if a future OpenSSL expanded an alias, fail loudly instead of
  // negotiating a fifth suite.
  if (sk_SSL_CIPHER_num(SSL_CTX_get_ciphers(ctx)) != 4) {
    return absl::InternalError("cipher list does not resolve to exactly four suites");
  }
  // No compression (CRIME), no renegotiation of any kind, and a FIN without
  // close_notify is an end of stream (PROTOCOL.md 3.5), not a fatal error.
  SSL_CTX_set_options(ctx, SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE |
                               SSL_OP_IGNORE_UNEXPECTED_EOF);
  // RELEASE_BUFFERS: an idle connection holds no 16 KiB record buffers.
  // PARTIAL_WRITE + MOVING_WRITE_BUFFER: the relay writes what it can per readiness
  // event and may retry from a different buffer address.
  SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS | SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<ssl_ctx_ptr> make_server_ctx(const server_tls_options& options) {
  ERR_clear_error();
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_server_method()));
  if (!ctx) return absl::InternalError("SSL_CTX_new failed");
  if (auto st = apply_common_policy(ctx.get()); !st.ok()) return st;
  // Stateless resumption only: tickets (judged in judge_ticket), no server-side cache.
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
  // One read(2) per record, or for several, instead of two (header, then body). Safe
  // with readiness waits because tls_socket::async_wait never waits while OpenSSL holds
  // whole records. The buffer is released whenever it empties (RELEASE_BUFFERS).
  SSL_CTX_set_read_ahead(ctx.get(), 1);
  if (options.tickets) {
    if (options.session_context.empty()) return absl::InvalidArgumentError("session tickets need a session context");
    unsigned char sid_ctx[EVP_MAX_MD_SIZE];
    unsigned int sid_len = 0;
    if (EVP_Digest(options.session_context.data(), options.session_context.size(), sid_ctx, &sid_len, EVP_sha256(),
                   nullptr) != 1 ||
        sid_len > SSL_MAX_SID_CTX_LENGTH || SSL_CTX_set_session_id_context(ctx.get(), sid_ctx, sid_len) != 1) {
      return absl::InternalError(str_cat("session id context refused: ", openssl_error_string()));
    }
    ticket_key_ring::attach(options.tickets, ctx.get());
    SSL_CTX_set_session_ticket_cb(ctx.get(), stamp_ticket, judge_ticket, nullptr);
  } else {
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
  }

  if (options.identities.empty()) return absl::InvalidArgumentError("no server certificate");
  for (const tls_identity* id : options.identities) {
    STACK_OF(X509)* chain = sk_X509_new_null();
    for (std::size_t i = 1; i < id->chain.size(); ++i) sk_X509_push(chain, id->chain[i].get());
    // override=1: replace a previous certificate of the same key type.
    int ok = SSL_CTX_use_cert_and_key(ctx.get(), id->chain.front().get(), id->key.get(), chain, 1);
    sk_X509_free(chain);  // use_cert_and_key took its own references
    if (!ok) return absl::InvalidArgumentError(str_cat("certificate refused: ", openssl_error_string()));
  }

  if (!options.client_cas.empty()) {
    X509_STORE* store = X509_STORE_new();
    STACK_OF(X509_NAME)* names = sk_X509_NAME_new_null();
    for (X509* ca : options.client_cas) {
      X509_STORE_add_cert(store, ca);
      sk_X509_NAME_push(names, X509_NAME_dup(X509_get_subject_name(ca)));
    }
    // A provisioned CA may be an intermediate (the Module Server's issuing CA under a
    // corporate root): a chain that ends at any provisioned certificate is trusted.
    // Without this, such a CA was accepted at provisioning and then every client
    // certificate failed, locking the operator out for good.
    X509_STORE_set_flags(store, X509_V_FLAG_PARTIAL_CHAIN);
    SSL_CTX_set_cert_store(ctx.get(), store);      // ctx owns store now
    SSL_CTX_set_client_CA_list(ctx.get(), names);  // ctx owns names now
    SSL_CTX_set_verify(ctx.get(),
                       SSL_VERIFY_PEER | (options.client_cert_required ? SSL_VERIFY_FAIL_IF_NO_PEER_CERT : 0),
                       verify_callback);
    SSL_CTX_set_verify_depth(ctx.get(), 4);
    if (options.client_check) {
      SSL_CTX_set_ex_data(ctx.get(), check_ex_index(), new client_cert_check(options.client_check));
    }
  }
  return ctx;
}

absl::StatusOr<ssl_ctx_ptr> make_client_ctx(const tls_identity* identity, const std::vector<X509*>& trusted) {
  ERR_clear_error();
  ssl_ctx_ptr ctx(SSL_CTX_new(TLS_client_method()));
  if (!ctx) return absl::InternalError("SSL_CTX_new failed");
  if (auto st = apply_common_policy(ctx.get()); !st.ok()) return st;
  if (identity) {
    STACK_OF(X509)* chain = sk_X509_new_null();
    for (std::size_t i = 1; i < identity->chain.size(); ++i) sk_X509_push(chain, identity->chain[i].get());
    int ok = SSL_CTX_use_cert_and_key(ctx.get(), identity->chain.front().get(), identity->key.get(), chain, 1);
    sk_X509_free(chain);
    if (!ok) return absl::InvalidArgumentError(str_cat("client certificate refused: ", openssl_error_string()));
  }
  if (!trusted.empty()) {
    X509_STORE* store = SSL_CTX_get_cert_store(ctx.get());
    for (X509* ca : trusted) X509_STORE_add_cert(store, ca);
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);
  }
  return ctx;
}

bool chains_to(X509_STORE* cas, X509* leaf, STACK_OF(X509) * chain) {
  if (cas == nullptr || leaf == nullptr) return false;
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(), X509_STORE_CTX_free);
  if (!ctx || X509_STORE_CTX_init(ctx.get(), cas, leaf, chain) != 1) return false;
  X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
  return X509_verify_cert(ctx.get()) == 1;
}

absl::StatusOr<tls_identity> make_tls_identity(std::string_view key_pem, std::string_view chain_pem) {
  auto key = parse_private_key_pem(key_pem);
  if (!key.ok()) return key.status();
  auto chain = parse_certificates_pem(chain_pem);
  if (!chain.ok()) return chain.status();
  if (X509_check_private_key(chain->front().get(), key->get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("certificate does not match the private key");
  }
  return tls_identity{std::move(*key), std::move(*chain)};
}

}  // namespace zp
