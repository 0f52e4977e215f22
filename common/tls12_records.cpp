#include "common/tls12_records.hpp"

#include "common/strings.hpp"
#include "common/tls_error.hpp"

#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

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
  // The cipher runs in OpenSSL's TLS mode for AES-GCM, the one libssl's own record layer
  // uses: per record one parameter (the additional data) and one EVP_Cipher call that
  // takes or writes the explicit nonce and the tag around the payload. Driving it as a
  // plain AEAD took five calls per record (IV, AAD, payload, final, tag), and OpenSSL 3's
  // dispatch around each cost more than AES-GCM itself on small records
  // (bench/RESULTS.md, "The record layer's cost per record").
  //
  // The nonce: an opener is given the salt and reads the explicit part from each record.
  // A sealer is given salt + sequence number as the whole IV (the fixed-IV parameter's
  // "length -1" form) and OpenSSL then writes that invocation field as each record's
  // explicit nonce and counts it up by one, so the explicit nonce stays our sequence
  // number (RFC 5288 3); seal() checks it on every record.
  const EVP_CIPHER* cipher = aes_gcm(info.key_size());
  cipher_ctx_ptr ctx(EVP_CIPHER_CTX_new());
  std::uint8_t iv[12];
  std::memcpy(iv, info.salt.data(), info.salt.size());
  put_u64(iv + info.salt.size(), info.sequence());
  const OSSL_PARAM fixed[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_IV_FIXED, iv,
                                                                seal ? static_cast<std::size_t>(-1) : info.salt.size()),
                              OSSL_PARAM_construct_end()};
  if (cipher == nullptr || !ctx ||
      EVP_CipherInit_ex(ctx.get(), cipher, nullptr, info.key.data(), nullptr, seal ? 1 : 0) != 1 ||
      EVP_CIPHER_CTX_set_params(ctx.get(), fixed) != 1) {
    return absl::InternalError(str_cat("AES-GCM context: ", openssl_error_string()));
  }
  return record_cipher(std::move(ctx), info.sequence());
}

bool record_cipher::set_aad(content_type type, std::size_t record_body) {
  // TLS mode wants the record's own length field here (explicit nonce and, when
  // opening, tag included) and takes the plaintext length from it.
  std::uint8_t aad[13];
  put_u64(aad, seq_);
  aad[8] = static_cast<std::uint8_t>(type);
  aad[9] = 3;
  aad[10] = 3;
  put_u16(aad + 11, record_body);
  const OSSL_PARAM params[] = {OSSL_PARAM_construct_octet_string(OSSL_CIPHER_PARAM_AEAD_TLS1_AAD, aad, sizeof aad),
                               OSSL_PARAM_construct_end()};
  return EVP_CIPHER_CTX_set_params(ctx_.get(), params) == 1;
}

std::error_code record_cipher::open(std::uint8_t* record, std::size_t size) {
  if (seq_ >= k_last_sequence) return sequence_exhausted();
  const std::size_t body = size - k_header;
  std::uint8_t* at = record + k_header;
  if (!set_aad(static_cast<content_type>(record[0]), body) ||
      EVP_Cipher(ctx_.get(), at, at, static_cast<unsigned>(body)) < 0) {
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
  const std::size_t body = plaintext_size + k_explicit_nonce + k_tag;
  put_u16(record + 3, body);
  std::uint8_t* at = record + k_header;
  if (!set_aad(type, k_explicit_nonce + plaintext_size) ||
      EVP_Cipher(ctx_.get(), at, at, static_cast<unsigned>(body)) < 0) {
    return take_tls_error();
  }
  // A nonce used twice under one key gives away the GCM authentication key: never send a
  // record whose explicit nonce is not the sequence number, whatever OpenSSL did.
  std::uint8_t expected[k_explicit_nonce];
  put_u64(expected, seq_);
  if (std::memcmp(at, expected, sizeof expected) != 0) return sequence_exhausted();
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
