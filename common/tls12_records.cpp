#include "common/tls12_records.hpp"

#include "common/strings.hpp"
#include "common/tls_error.hpp"

#include <openssl/err.h>

#include <openssl/ssl.h>

#include <cstring>

namespace zp::tls12 {
namespace {

std::error_code ssl_reason(int reason) { return {static_cast<int>(ERR_PACK(ERR_LIB_SSL, 0, reason)), tls_category()}; }

// The errors of this file, each named by OpenSSL's reason for the same fault.
std::error_code bad_record_mac() { return ssl_reason(SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC); }
std::error_code record_overflow() { return ssl_reason(SSL_R_ENCRYPTED_LENGTH_TOO_LONG); }
std::error_code wrong_version() { return ssl_reason(SSL_R_WRONG_VERSION_NUMBER); }
std::error_code unexpected_record() { return ssl_reason(SSL_R_UNEXPECTED_RECORD); }
std::error_code bad_alert() { return ssl_reason(SSL_R_BAD_LENGTH); }
std::error_code sequence_exhausted() { return ssl_reason(SSL_R_INVALID_SEQUENCE_NUMBER); }

void put_u16(std::uint8_t* p, std::size_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v);
}

void put_u64(std::uint8_t* p, std::uint64_t v) {
  for (int i = 7; i >= 0; --i, v >>= 8) p[i] = static_cast<std::uint8_t>(v);
}

const EVP_CIPHER* aes_gcm(std::size_t key_size) {
  // Fetched once: an implicit fetch per context would cost a provider lookup each time.
  static EVP_CIPHER* const aes128 = EVP_CIPHER_fetch(nullptr, "AES-128-GCM", nullptr);
  static EVP_CIPHER* const aes256 = EVP_CIPHER_fetch(nullptr, "AES-256-GCM", nullptr);
  return key_size == 32 ? aes256 : aes128;
}

}  // namespace

std::error_code parse_header(std::span<const std::uint8_t> bytes, std::size_t max_plaintext, record_header& out) {
  out = record_header{};
  if (bytes.size() < k_header) return {};
  if (bytes[1] != 3 || bytes[2] != 3) return wrong_version();
  const std::size_t body = (std::size_t{bytes[3]} << 8) | bytes[4];
  if (body < k_explicit_nonce + k_tag) return bad_record_mac();
  if (body - k_explicit_nonce - k_tag > max_plaintext) return record_overflow();
  out.type = static_cast<content_type>(bytes[0]);
  out.size = k_header + body;
  return {};
}

std::uint8_t alert_for(const std::error_code& ec) {
  if (ec.category() != tls_category()) return 0;
  const int reason = ERR_GET_REASON(static_cast<unsigned long>(ec.value()));
  if (reason >= SSL_AD_REASON_OFFSET) return 0;  // the peer's own alert: nothing to answer
  switch (reason) {
    case SSL_R_DECRYPTION_FAILED_OR_BAD_RECORD_MAC:
      return SSL_AD_BAD_RECORD_MAC;
    case SSL_R_ENCRYPTED_LENGTH_TOO_LONG:
      return SSL_AD_RECORD_OVERFLOW;
    case SSL_R_WRONG_VERSION_NUMBER:
      return SSL_AD_PROTOCOL_VERSION;
    case SSL_R_UNEXPECTED_RECORD:
      return SSL_AD_UNEXPECTED_MESSAGE;
    case SSL_R_BAD_LENGTH:
      return SSL_AD_DECODE_ERROR;
    default:
      return SSL_AD_INTERNAL_ERROR;
  }
}

std::error_code received_alert(std::uint8_t description) { return ssl_reason(SSL_AD_REASON_OFFSET + description); }

absl::StatusOr<record_cipher> record_cipher::make(const tls12_crypto_info& info, bool seal) {
  if (info.version != k_tls_1_2_version ||
      (info.cipher_type != k_tls_cipher_aes_gcm_128 && info.cipher_type != k_tls_cipher_aes_gcm_256)) {
    return absl::InvalidArgumentError("not TLS 1.2 AES-GCM keys");
  }
  const EVP_CIPHER* cipher = aes_gcm(info.key_size());
  cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  if (cipher == nullptr || !ctx ||
      EVP_CipherInit_ex(ctx.get(), cipher, nullptr, info.key.data(), nullptr, seal ? 1 : 0) != 1) {
    return absl::InternalError(str_cat("AES-GCM context: ", openssl_error_string()));
  }
  return record_cipher(std::move(ctx), info.salt, info.sequence());
}

void record_cipher::nonce_and_aad(const std::uint8_t* explicit_nonce, content_type type, std::size_t plaintext_size,
                                  std::uint8_t (&nonce)[12], std::uint8_t (&aad)[13]) const {
  std::memcpy(nonce, salt_.data(), salt_.size());
  std::memcpy(nonce + salt_.size(), explicit_nonce, k_explicit_nonce);
  put_u64(aad, seq_);
  aad[8] = static_cast<std::uint8_t>(type);
  aad[9] = 3;
  aad[10] = 3;
  put_u16(aad + 11, plaintext_size);
}

std::error_code record_cipher::open(std::uint8_t* record, std::size_t size) {
  if (seq_ >= k_last_sequence) return sequence_exhausted();
  const std::size_t plaintext_size = size - k_overhead;
  std::uint8_t* nonce_at = record + k_header;
  std::uint8_t* data = nonce_at + k_explicit_nonce;
  std::uint8_t nonce[12];
  std::uint8_t aad[13];
  nonce_and_aad(nonce_at, static_cast<content_type>(record[0]), plaintext_size, nonce, aad);
  int n = 0;
  EVP_CIPHER_CTX* c = ctx_.get();
  if (EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, nonce, -1) != 1 ||
      EVP_CipherUpdate(c, nullptr, &n, aad, sizeof aad) != 1 ||
      EVP_CipherUpdate(c, data, &n, data, static_cast<int>(plaintext_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(k_tag), data + plaintext_size) != 1 ||
      EVP_CipherFinal_ex(c, data + plaintext_size, &n) != 1) {
    ERR_clear_error();
    return bad_record_mac();
  }
  ++seq_;
  return {};
}

std::error_code record_cipher::seal(content_type type, std::uint8_t* record, std::size_t plaintext_size) {
  if (seq_ >= k_last_sequence) return sequence_exhausted();
  record[0] = static_cast<std::uint8_t>(type);
  record[1] = 3;
  record[2] = 3;
  put_u16(record + 3, plaintext_size + k_explicit_nonce + k_tag);
  std::uint8_t* nonce_at = record + k_header;
  put_u64(nonce_at, seq_);  // RFC 5288 3: the sequence number is a fine explicit nonce
  std::uint8_t* data = nonce_at + k_explicit_nonce;
  std::uint8_t nonce[12];
  std::uint8_t aad[13];
  nonce_and_aad(nonce_at, type, plaintext_size, nonce, aad);
  int n = 0;
  EVP_CIPHER_CTX* c = ctx_.get();
  if (EVP_CipherInit_ex(c, nullptr, nullptr, nullptr, nonce, -1) != 1 ||
      EVP_CipherUpdate(c, nullptr, &n, aad, sizeof aad) != 1 ||
      EVP_CipherUpdate(c, data, &n, data, static_cast<int>(plaintext_size)) != 1 ||
      EVP_CipherFinal_ex(c, data + plaintext_size, &n) != 1 ||
      EVP_CIPHER_CTX_ctrl(c, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(k_tag), data + plaintext_size) != 1) {
    return take_tls_error();
  }
  ++seq_;
  return {};
}

reseal_result reseal(std::span<std::uint8_t> bytes, record_cipher& from, record_cipher& to, std::size_t max_plaintext) {
  reseal_result r;
  while (r.ready < bytes.size()) {
    std::uint8_t* record = bytes.data() + r.ready;
    record_header h;
    if ((r.ec = parse_header(bytes.subspan(r.ready), max_plaintext, h))) return r;
    if (h.size == 0 || h.size > bytes.size() - r.ready) return r;  // incomplete: wait for the rest
    if (h.type != content_type::application_data && h.type != content_type::alert) {
      r.ec = unexpected_record();  // a renegotiation, a stray ChangeCipherSpec, or junk
      return r;
    }
    if ((r.ec = from.open(record, h.size))) return r;
    const std::size_t plaintext_size = h.size - k_overhead;
    const std::uint8_t* plaintext = record + k_header + k_explicit_nonce;
    if (h.type == content_type::alert) {
      if (plaintext_size != 2) {
        r.ec = bad_alert();
      } else if (plaintext[1] == SSL_AD_CLOSE_NOTIFY) {
        r.close_notify = true;
      } else {
        r.ec = received_alert(plaintext[1]);
      }
      return r;
    }
    if ((r.ec = to.seal(content_type::application_data, record, plaintext_size))) return r;
    r.ready += h.size;
    r.plaintext += plaintext_size;
  }
  return r;
}

std::error_code seal_alert(record_cipher& to, std::uint8_t level, std::uint8_t description,
                           std::span<std::uint8_t, k_overhead + 2> out) {
  std::uint8_t* data = out.data() + k_header + k_explicit_nonce;
  data[0] = level;
  data[1] = description;
  return to.seal(content_type::alert, out.data(), 2);
}

}  // namespace zp::tls12
