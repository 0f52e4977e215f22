#include "provisioning/key_factory.hpp"

#include <fmt/ranges.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>
#include "common/strings.hpp"

namespace zp::provisioning {
namespace {

absl::Status ssl_failure(std::string_view what) {
  return absl::InternalError(str_cat(what, ": ", openssl_error_string()));
}

bool add_extension(X509* cert, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1;
}

}  // namespace

const char* key_type_name(key_type t) { return t == key_type::rsa ? "rsa" : "ecdsa"; }

absl::StatusOr<evp_pkey_ptr> generate_key(key_type t) {
  ERR_clear_error();
  EVP_PKEY* raw = t == key_type::rsa ? EVP_RSA_gen(2048) : EVP_EC_gen("P-256");
  if (raw == nullptr) return ssl_failure(str_cat("cannot generate ", key_type_name(t), " key"));
  return evp_pkey_ptr(raw);
}

absl::StatusOr<key_type> classify_key(EVP_PKEY* key) {
  if (EVP_PKEY_is_a(key, "RSA")) {
    if (EVP_PKEY_get_bits(key) < 2048) return absl::InvalidArgumentError("RSA key shorter than 2048 bits");
    return key_type::rsa;
  }
  if (EVP_PKEY_is_a(key, "EC")) {
    char group[64] = {};
    std::size_t len = 0;
    if (EVP_PKEY_get_utf8_string_param(key, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group, &len) != 1 ||
        std::string_view(group) != "prime256v1") {
      ERR_clear_error();
      return absl::InvalidArgumentError("EC key is not on P-256");
    }
    return key_type::ecdsa;
  }
  return absl::InvalidArgumentError("key is neither RSA nor ECDSA");
}

absl::StatusOr<x509_ptr> make_self_signed(EVP_PKEY* key, const std::string& common_name, std::chrono::hours lifetime) {
  ERR_clear_error();
  x509_ptr cert(X509_new());
  X509_set_version(cert.get(), 2);  // v3
  unsigned char serial[16];
  if (RAND_bytes(serial, sizeof serial) != 1) return ssl_failure("RAND_bytes");
  serial[0] &= 0x7f;  // positive INTEGER
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);  // tolerate clock skew
  X509_gmtime_adj(X509_getm_notAfter(cert.get()),
                  static_cast<long>(std::chrono::duration_cast<std::chrono::seconds>(lifetime).count()));
  X509_set_pubkey(cert.get(), key);
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_set_issuer_name(cert.get(), name);
  const bool rsa = EVP_PKEY_is_a(key, "RSA");
  if (!add_extension(cert.get(), NID_basic_constraints, "critical,CA:FALSE") ||
      !add_extension(cert.get(), NID_key_usage,
                     rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature") ||
      !add_extension(cert.get(), NID_ext_key_usage, "serverAuth") ||
      !add_extension(cert.get(), NID_subject_key_identifier, "hash")) {
    return ssl_failure("cannot add certificate extensions");
  }
  if (X509_sign(cert.get(), key, EVP_sha256()) == 0) return ssl_failure("cannot sign certificate");
  return cert;
}

absl::StatusOr<x509_req_ptr> make_csr(EVP_PKEY* key, const std::string& common_name,
                                      const std::vector<std::string>& dns_names,
                                      const std::vector<std::string>& ip_addresses) {
  ERR_clear_error();
  x509_req_ptr req(X509_REQ_new());
  X509_REQ_set_version(req.get(), 0);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(common_name.c_str()), -1,
                             -1, 0);
  X509_REQ_set_pubkey(req.get(), key);
  std::vector<std::string> sans;
  sans.reserve(dns_names.size() + ip_addresses.size());
  for (const auto& d : dns_names) sans.push_back(str_cat("DNS:", d));
  for (const auto& ip : ip_addresses) sans.push_back(str_cat("IP:", ip));
  if (!sans.empty()) {
    std::string value = fmt::format("{}", fmt::join(sans, ","));
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, nullptr, NID_subject_alt_name, value.c_str());
    if (ext == nullptr)
      return absl::InvalidArgumentError(str_cat("bad subject alternative names: ", openssl_error_string()));
    STACK_OF(X509_EXTENSION)* exts = sk_X509_EXTENSION_new_null();
    sk_X509_EXTENSION_push(exts, ext);
    X509_REQ_add_extensions(req.get(), exts);
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  if (X509_REQ_sign(req.get(), key, EVP_sha256()) == 0) return ssl_failure("cannot sign CSR");
  return req;
}

}  // namespace zp::provisioning
