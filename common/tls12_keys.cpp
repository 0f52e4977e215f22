#include "common/tls12_keys.hpp"

#include "common/strings.hpp"
#include "common/tls_error.hpp"

#include <openssl/core_names.h>
#include <openssl/kdf.h>
#include <openssl/ssl.h>

#include <cstring>
#include <string>

namespace zp {
namespace {

// Records read and written since the connection started, or since its last
// ChangeCipherSpec each way: the sequence number of the next record (RFC 5246 6.1).
struct record_counts {
  std::uint64_t read = 0;
  std::uint64_t write = 0;
};

void free_counts(void*, void* counts, CRYPTO_EX_DATA*, int, long, void*) {
  delete static_cast<record_counts*>(counts);  // NOLINT(cppcoreguidelines-owning-memory): OpenSSL's ex_data
}

int counts_slot() {
  static const int slot = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, free_counts);
  return slot;
}

// OpenSSL calls this with every record header it parses (read) or builds (write), once
// per record, before the record is decrypted or sent (ssl3_get_record, do_ssl3_write).
void on_message(int write_p, int, int content_type, const void* buf, std::size_t len, SSL* ssl, void*) {
  if (content_type != SSL3_RT_HEADER || len < 1) return;
  auto* counts = static_cast<record_counts*>(SSL_get_ex_data(ssl, counts_slot()));
  if (counts == nullptr) return;
  std::uint64_t& n = write_p != 0 ? counts->write : counts->read;
  // The ChangeCipherSpec record is the last under the old keys; the next is 0 under the new.
  n = static_cast<const std::uint8_t*>(buf)[0] == SSL3_RT_CHANGE_CIPHER_SPEC ? 0 : n + 1;
}

std::string_view view(const std::uint8_t* p, std::size_t n) { return {reinterpret_cast<const char*>(p), n}; }

}  // namespace

std::uint64_t tls12_crypto_info::sequence() const {
  std::uint64_t seq = 0;
  for (std::uint8_t b : rec_seq) seq = (seq << 8) | b;
  return seq;
}

void tls12_crypto_info::set_sequence(std::uint64_t seq) {
  for (std::size_t i = rec_seq.size(); i-- > 0; seq >>= 8) rec_seq[i] = static_cast<std::uint8_t>(seq);
}

void count_records(SSL* ssl) {
  if (SSL_get_ex_data(ssl, counts_slot()) == nullptr) SSL_set_ex_data(ssl, counts_slot(), new record_counts());
  SSL_set_msg_callback(ssl, on_message);
}

absl::Status tls12_prf(const EVP_MD* md, std::string_view secret, std::string_view label, std::string_view seed,
                       std::span<std::uint8_t> out) {
  EVP_KDF* kdf = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_TLS1_PRF, nullptr);
  if (kdf == nullptr) return absl::InternalError(str_cat("TLS1-PRF unavailable: ", openssl_error_string()));
  EVP_KDF_CTX* ctx = EVP_KDF_CTX_new(kdf);
  EVP_KDF_free(kdf);
  if (ctx == nullptr) return absl::InternalError("TLS1-PRF: no context");
  // The label is the start of the seed (RFC 5246 5: PRF(secret, label, seed) =
  // P_hash(secret, label + seed)).
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, const_cast<char*>(EVP_MD_get0_name(md)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SECRET, const_cast<char*>(secret.data()), secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, const_cast<char*>(label.data()), label.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SEED, const_cast<char*>(seed.data()), seed.size()),
      OSSL_PARAM_construct_end()};
  const int ok = EVP_KDF_derive(ctx, out.data(), out.size(), params);
  EVP_KDF_CTX_free(ctx);
  if (ok != 1) return absl::InternalError(str_cat("TLS1-PRF failed: ", openssl_error_string()));
  return absl::OkStatus();
}

absl::StatusOr<tls12_traffic_keys> derive_tls12_keys(const tls12_secrets& secrets, bool server) {
  if (secrets.prf_digest == nullptr || secrets.master_secret.size() != SSL3_MASTER_SECRET_SIZE ||
      secrets.client_random.size() != SSL3_RANDOM_SIZE || secrets.server_random.size() != SSL3_RANDOM_SIZE) {
    return absl::InvalidArgumentError("TLS 1.2 secrets of the wrong size");
  }
  tls12_traffic_keys keys;
  keys.rx.cipher_type = keys.tx.cipher_type = secrets.cipher_type;
  const std::size_t k = keys.rx.key_size();
  std::string seed;  // server random, then client random (RFC 5246 6.3)
  seed.append(secrets.server_random).append(secrets.client_random);
  // client_write_key, server_write_key, client_write_IV, server_write_IV; no MAC keys.
  std::uint8_t block[2 * 32 + 2 * 4];
  auto st = tls12_prf(secrets.prf_digest, secrets.master_secret, "key expansion", seed, std::span(block, 2 * k + 8));
  if (!st.ok()) return st;
  tls12_crypto_info& client_side = server ? keys.rx : keys.tx;
  tls12_crypto_info& server_side = server ? keys.tx : keys.rx;
  std::memcpy(client_side.key.data(), block, k);
  std::memcpy(server_side.key.data(), block + k, k);
  std::memcpy(client_side.salt.data(), block + 2 * k, 4);
  std::memcpy(server_side.salt.data(), block + 2 * k + 4, 4);
  OPENSSL_cleanse(block, sizeof block);
  return keys;
}

absl::StatusOr<tls12_traffic_keys> export_tls12_keys(SSL* ssl) {
  if (SSL_version(ssl) != TLS1_2_VERSION || !SSL_is_init_finished(ssl)) {
    return absl::FailedPreconditionError("not an established TLS 1.2 connection");
  }
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  const int nid = cipher ? SSL_CIPHER_get_cipher_nid(cipher) : NID_undef;
  if (nid != NID_aes_128_gcm && nid != NID_aes_256_gcm) return absl::FailedPreconditionError("not an AES-GCM suite");
  const EVP_MD* md = SSL_CIPHER_get_handshake_digest(cipher);
  if (md == nullptr) return absl::FailedPreconditionError("suite without a PRF digest");
  if (SSL_pending(ssl) != 0 || SSL_has_pending(ssl) != 0) {
    return absl::FailedPreconditionError("OpenSSL still holds received bytes");
  }
  const auto* counts = static_cast<const record_counts*>(SSL_get_ex_data(ssl, counts_slot()));
  if (counts == nullptr) return absl::FailedPreconditionError("records were not counted from the start");
  SSL_SESSION* session = SSL_get_session(ssl);
  if (session == nullptr) return absl::FailedPreconditionError("no session");

  std::uint8_t master[SSL_MAX_MASTER_KEY_LENGTH];
  const std::size_t master_size = SSL_SESSION_get_master_key(session, master, sizeof master);
  std::uint8_t client_random[SSL3_RANDOM_SIZE];
  std::uint8_t server_random[SSL3_RANDOM_SIZE];
  if (master_size != SSL3_MASTER_SECRET_SIZE ||
      SSL_get_client_random(ssl, client_random, sizeof client_random) != sizeof client_random ||
      SSL_get_server_random(ssl, server_random, sizeof server_random) != sizeof server_random) {
    OPENSSL_cleanse(master, sizeof master);
    return absl::FailedPreconditionError("no master secret or randoms");
  }

  auto keys = derive_tls12_keys(
      {nid == NID_aes_128_gcm ? k_tls_cipher_aes_gcm_128 : k_tls_cipher_aes_gcm_256, md, view(master, master_size),
       view(client_random, sizeof client_random), view(server_random, sizeof server_random)},
      SSL_is_server(ssl) == 1);
  OPENSSL_cleanse(master, sizeof master);
  if (!keys.ok()) return keys.status();
  keys->rx.set_sequence(counts->read);
  keys->tx.set_sequence(counts->write);
  keys->rx.iv = keys->rx.rec_seq;  // unused: a receiver takes each record's from the wire
  keys->tx.iv = keys->tx.rec_seq;  // our explicit nonce is the sequence number (RFC 5288 3)

  // RFC 6066 4: codes 1..4 are 2^9..2^12 bytes.
  const std::uint8_t mfl = SSL_SESSION_get_max_fragment_length(session);
  if (mfl >= TLSEXT_max_fragment_length_512 && mfl <= TLSEXT_max_fragment_length_4096) {
    keys->max_plaintext = std::size_t{256} << mfl;
  }
  return keys;
}

}  // namespace zp
