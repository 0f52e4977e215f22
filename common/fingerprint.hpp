#pragma once
// How a certificate is named for people: SHA-256 fingerprints in lowercase hex (the form
// operators pin and PROTOCOL.md uses) and its subject.

#include <openssl/x509.h>

#include <string>

namespace zp {

/// SHA-256 of the DER SubjectPublicKeyInfo of a certificate's public key.
std::string spki_sha256_hex(X509* cert);
/// SHA-256 of the DER SubjectPublicKeyInfo of a key.
std::string spki_sha256_hex(EVP_PKEY* key);
/// SHA-256 of the whole DER certificate (what `openssl x509 -fingerprint -sha256` shows).
std::string cert_sha256_hex(X509* cert);
/// "/CN=name/O=org", OpenSSL's one-line form (bounded to 511 characters).
std::string subject_of(X509* cert);
/// Lowercase hex of bytes.
std::string to_hex(const unsigned char* data, std::size_t len);

}  // namespace zp
