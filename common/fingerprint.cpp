#include "common/fingerprint.hpp"

#include <openssl/evp.h>

namespace zp {
namespace {

// Fetched once for the process: a fingerprint is taken on every client-certificate
// handshake (the revocation check), and OpenSSL 3.0 would look SHA-256 up by name in
// its locked method store every time EVP_sha256() is used. Never freed (process-wide).
const EVP_MD* sha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md != nullptr ? md : EVP_sha256();
}

}  // namespace

std::string to_hex(const unsigned char* data, std::size_t len) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(len * 2, '0');
  for (std::size_t i = 0; i < len; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 0xf];
  }
  return out;
}

std::string spki_sha256_hex(EVP_PKEY* key) {
  unsigned char* der = nullptr;
  int len = i2d_PUBKEY(key, &der);
  if (len <= 0) return {};
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  EVP_Digest(der, static_cast<std::size_t>(len), md, &md_len, sha256(), nullptr);
  OPENSSL_free(der);
  return to_hex(md, md_len);
}

std::string spki_sha256_hex(X509* cert) {
  // X509_get0_pubkey does not add a reference: nothing to free.
  EVP_PKEY* key = X509_get0_pubkey(cert);
  return key ? spki_sha256_hex(key) : std::string{};
}

std::string cert_sha256_hex(X509* cert) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int md_len = 0;
  X509_digest(cert, sha256(), md, &md_len);
  return to_hex(md, md_len);
}

std::string subject_of(X509* cert) {
  char buf[512];
  X509_NAME_oneline(X509_get_subject_name(cert), buf, sizeof buf);
  return buf;
}

}  // namespace zp
