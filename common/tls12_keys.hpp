#pragma once
// The traffic keys of a TLS 1.2 AES-GCM connection, taken out of OpenSSL so that records
// can be protected without it (common/tls12_records.hpp, ARCHITECTURE.md "The record
// layer").
//
// OpenSSL 3.0 has no getter for the record sequence numbers, so every connection counts
// its records from the start (count_records, installed by tls_socket): OpenSSL reports
// each record header it reads or writes to the message callback, and a
// ChangeCipherSpec record starts the count of the new keys at 0 (RFC 5246 6.1). The key
// block comes from the master secret and both randoms with the TLS 1.2 PRF (RFC 5246
// 6.3); with an AEAD suite it holds no MAC keys, only the write keys and the 4-byte
// implicit nonces ("salts", RFC 5288 3).

#include "common/openssl_ptr.hpp"

#include <absl/status/statusor.h>

#include <array>
#include <cstdint>
#include <span>
#include <string_view>

namespace zp {

// The values of <linux/tls.h>, so that the state below reads as the kernel's.
inline constexpr std::uint16_t k_tls_1_2_version = 0x0303;
inline constexpr std::uint16_t k_tls_cipher_aes_gcm_128 = 51;
inline constexpr std::uint16_t k_tls_cipher_aes_gcm_256 = 52;

/// One direction of a connection: field for field the kernel's
/// tls12_crypto_info_aes_gcm_128/256 (the key is 16 or 32 bytes by cipher_type).
/// `iv` is the explicit nonce the next record sent will carry (our sender uses the
/// sequence number; a receiver reads it from each record). `rec_seq` is the sequence
/// number of the next record, big-endian.
///
/// A kernel TLS path would plug in here: setsockopt(fd, SOL_TLS, TLS_TX / TLS_RX) with
/// these bytes copied into the kernel struct of the matching size, after
/// setsockopt(TCP_ULP, "tls"). It is not built: this machine's kernel has no tls module,
/// and untested code does not ship.
struct tls12_crypto_info {
  std::uint16_t version = k_tls_1_2_version;
  std::uint16_t cipher_type = 0;
  std::array<std::uint8_t, 8> iv{};
  std::array<std::uint8_t, 32> key{};
  std::array<std::uint8_t, 4> salt{};
  std::array<std::uint8_t, 8> rec_seq{};

  std::size_t key_size() const { return cipher_type == k_tls_cipher_aes_gcm_256 ? 32 : 16; }
  std::uint64_t sequence() const;
  void set_sequence(std::uint64_t seq);
};

/// Both directions of one connection, as seen from this end.
struct tls12_traffic_keys {
  tls12_crypto_info rx;  // what the peer sends: decrypt with it
  tls12_crypto_info tx;  // what we send: encrypt with it
  /// The largest plaintext of a record either way: 2^14, or less when the connection
  /// negotiated a maximum fragment length (RFC 6066 4).
  std::size_t max_plaintext = 16384;
};

/// Starts counting `ssl`'s records (before its handshake). The count travels with the
/// SSL* (ex_data) when a connection moves to another worker.
void count_records(SSL* ssl);

/// The TLS 1.2 PRF (RFC 5246 5) with `md` (SHA-256 or SHA-384), `out.size()` bytes.
absl::Status tls12_prf(const EVP_MD* md, std::string_view secret, std::string_view label, std::string_view seed,
                       std::span<std::uint8_t> out);

/// What the key block of a connection comes from (RFC 5246 6.3).
struct tls12_secrets {
  std::uint16_t cipher_type = k_tls_cipher_aes_gcm_128;
  const EVP_MD* prf_digest = nullptr;  // the suite's: SHA-256 or SHA-384
  std::string_view master_secret;      // 48 bytes
  std::string_view client_random;      // 32 bytes
  std::string_view server_random;      // 32 bytes
};

/// Both directions' keys and salts from the secrets, as seen by the server (`server`
/// true) or the client; sequence numbers 0.
absl::StatusOr<tls12_traffic_keys> derive_tls12_keys(const tls12_secrets& secrets, bool server);

/// The traffic keys of an established TLS 1.2 AES-GCM connection with nothing left
/// inside OpenSSL: no decrypted bytes unread (SSL_pending), no raw bytes unparsed
/// (SSL_has_pending) and records counted since the start (count_records). Fails,
/// naming the reason, for anything else; the connection is untouched either way.
/// The caller vouches for the write side: its last SSL_write finished whole (a write
/// that wanted to wait leaves a record inside OpenSSL, which no API shows).
absl::StatusOr<tls12_traffic_keys> export_tls12_keys(SSL* ssl);

}  // namespace zp
