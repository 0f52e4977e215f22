#include "common/ticket_keys.hpp"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

namespace zp {
namespace {

// Index of the SSL_CTX ex_data slot holding a heap shared_ptr to the ring, released
// with the context.
int ring_ex_index() {
  static const int index =
      SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, [](void*, void* ptr, CRYPTO_EX_DATA*, int, long, void*) {
        delete static_cast<std::shared_ptr<ticket_key_ring>*>(ptr);
      });
  return index;
}

bool set_hmac_key(EVP_MAC_CTX* mac, std::array<unsigned char, 32>& key) {
  char digest[] = "SHA256";
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.data(), key.size()),
                               OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                               OSSL_PARAM_construct_end()};
  return EVP_MAC_CTX_set_params(mac, params) == 1;
}

}  // namespace

absl::StatusOr<std::shared_ptr<ticket_key_ring>> ticket_key_ring::create(std::chrono::seconds period,
                                                                         std::function<clock::time_point()> now) {
  EVP_CIPHER* aes = EVP_CIPHER_fetch(nullptr, "AES-256-CBC", nullptr);
  if (aes == nullptr) return absl::InternalError("session tickets: OpenSSL offers no AES-256-CBC");
  return std::shared_ptr<ticket_key_ring>(new ticket_key_ring(period, std::move(now), aes));
}

ticket_key_ring::ticket_key_ring(std::chrono::seconds period, std::function<clock::time_point()> now,
                                 EVP_CIPHER* aes_256_cbc)
    : period_(std::clamp(period, std::chrono::seconds(1), k_max_period)),
      now_(std::move(now)),
      aes_256_cbc_(aes_256_cbc) {}

ticket_key_ring::~ticket_key_ring() {
  absl::MutexLock lock(&mu_);
  for (auto* k : {&current_, &previous_}) {
    if (*k) {
      OPENSSL_cleanse((*k)->aes.data(), (*k)->aes.size());
      OPENSSL_cleanse((*k)->hmac.data(), (*k)->hmac.size());
    }
  }
  EVP_CIPHER_free(aes_256_cbc_);
}

void ticket_key_ring::attach(const std::shared_ptr<ticket_key_ring>& ring, SSL_CTX* ctx) {
  SSL_CTX_set_ex_data(ctx, ring_ex_index(), new std::shared_ptr<ticket_key_ring>(ring));
  SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &ticket_key_ring::callback);
  // The lifetime hint a client sees: what the ring will still open.
  SSL_CTX_set_timeout(ctx, static_cast<long>(2 * ring->period_.count()));
}

int ticket_key_ring::callback(SSL* ssl, unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher,
                              EVP_MAC_CTX* mac, int enc) {
  auto* ring =
      static_cast<std::shared_ptr<ticket_key_ring>*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), ring_ex_index()));
  if (ring == nullptr || !*ring) return enc == 1 ? -1 : 0;
  return enc == 1 ? (*ring)->seal(key_name, iv, cipher, mac) : (*ring)->open(key_name, iv, cipher, mac);
}

void ticket_key_ring::rotate_if_due(clock::time_point now) {
  if (current_ && now - current_->made < period_) return;
  // The outgoing key still opens tickets for one period after it was current, but never
  // once it is two periods old (after a quiet spell, it leaves at once).
  if (current_ && now - current_->made < 2 * period_) {
    previous_ = current_;
  } else {
    previous_.reset();
  }
  key next;
  if (RAND_bytes(next.name.data(), next.name.size()) != 1 || RAND_priv_bytes(next.aes.data(), next.aes.size()) != 1 ||
      RAND_priv_bytes(next.hmac.data(), next.hmac.size()) != 1) {
    current_.reset();  // no ticket rather than a weak one
    return;
  }
  next.made = now;
  current_ = next;
}

std::optional<ticket_key_ring::key> ticket_key_ring::sealing_key() {
  absl::MutexLock lock(&mu_);
  rotate_if_due(now_());
  return current_;
}

ticket_key_ring::found ticket_key_ring::opening_key(const unsigned char* name, key& out) {
  absl::MutexLock lock(&mu_);
  const clock::time_point now = now_();
  rotate_if_due(now);
  for (auto [k, which] : {std::pair{&current_, found::current}, std::pair{&previous_, found::previous}}) {
    if (*k && std::memcmp((*k)->name.data(), name, (*k)->name.size()) == 0 && now - (*k)->made < 2 * period_) {
      out = **k;
      return which;
    }
  }
  return found::none;
}

int ticket_key_ring::seal(unsigned char* key_name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac) {
  std::optional<key> k = sealing_key();
  if (!k) return -1;
  std::memcpy(key_name, k->name.data(), k->name.size());
  const bool ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(aes_256_cbc_)) == 1 &&
                  EVP_EncryptInit_ex(cipher, aes_256_cbc_, nullptr, k->aes.data(), iv) == 1 &&
                  set_hmac_key(mac, k->hmac);
  OPENSSL_cleanse(k->aes.data(), k->aes.size());
  OPENSSL_cleanse(k->hmac.data(), k->hmac.size());
  return ok ? 1 : -1;
}

int ticket_key_ring::open(const unsigned char* key_name, const unsigned char* iv, EVP_CIPHER_CTX* cipher,
                          EVP_MAC_CTX* mac) {
  key k;
  const found which = opening_key(key_name, k);
  if (which == found::none) return 0;  // unknown or too old: a full handshake
  const bool ok = set_hmac_key(mac, k.hmac) && EVP_DecryptInit_ex(cipher, aes_256_cbc_, nullptr, k.aes.data(), iv) == 1;
  OPENSSL_cleanse(k.aes.data(), k.aes.size());
  OPENSSL_cleanse(k.hmac.data(), k.hmac.size());
  if (!ok) return -1;
  return which == found::previous ? 2 : 1;  // 2: valid, and the client gets a fresh ticket
}

}  // namespace zp
