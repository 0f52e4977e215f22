#include "provisioning/ctl/csr_signer.hpp"

#include "common/openssl_ptr.hpp"
#include "common/pem.hpp"
#include "common/strings.hpp"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

namespace zp::ctl {
namespace {

bool add_ext(X509* cert, X509* issuer, int nid, const char* value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value);
  if (ext == nullptr) return false;
  const int ok = X509_add_ext(cert, ext, -1);
  X509_EXTENSION_free(ext);
  return ok == 1;
}

}  // namespace

absl::StatusOr<evp_pkey_ptr> load_ca_key(const std::string& pem, const std::optional<std::string>& passphrase,
                                         bool may_prompt) {
  // "BEGIN ENCRYPTED PRIVATE KEY" (PKCS#8) or "Proc-Type: 4,ENCRYPTED" (legacy PEM).
  const bool encrypted = pem.find("ENCRYPTED") != std::string::npos;
  if (!encrypted) return parse_private_key_pem(pem);
  if (!passphrase && !may_prompt) {
    return absl::InvalidArgumentError(
        "the key is encrypted: give its passphrase with --zone-ca-key-pass-file FILE (or run on a terminal to be "
        "asked)");
  }
  ERR_clear_error();
  bio_ptr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  // With no passphrase, OpenSSL's default callback asks on the terminal.
  evp_pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr,
                                           passphrase ? const_cast<char*>(passphrase->c_str()) : nullptr));
  if (!key) return absl::InvalidArgumentError("cannot decrypt it: wrong passphrase?");
  return key;
}

absl::StatusOr<std::string> sign_csr(const std::string& csr_pem, const std::string& ca_cert_pem, EVP_PKEY* ca_key,
                                     int days) {
  bio_ptr bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  x509_req_ptr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return absl::InvalidArgumentError("the proxy's CSR does not parse");
  EVP_PKEY* req_key = X509_REQ_get0_pubkey(req.get());
  if (req_key == nullptr || X509_REQ_verify(req.get(), req_key) != 1) {
    return absl::InvalidArgumentError("the proxy's CSR signature does not verify");
  }
  auto ca_certs = parse_certificates_pem(ca_cert_pem);
  if (!ca_certs.ok()) return absl::InvalidArgumentError(str_cat("zone CA certificate: ", ca_certs.status().message()));
  X509* ca = ca_certs->front().get();
  if (X509_check_private_key(ca, ca_key) != 1) {
    return absl::InvalidArgumentError("zone CA key does not match the zone CA certificate");
  }

  x509_ptr cert(X509_new());
  X509_set_version(cert.get(), 2);
  unsigned char serial[16];
  RAND_bytes(serial, sizeof serial);
  serial[0] &= 0x7f;
  BIGNUM* bn = BN_bin2bn(serial, sizeof serial, nullptr);
  BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(cert.get()));
  BN_free(bn);
  X509_set_issuer_name(cert.get(), X509_get_subject_name(ca));
  X509_set_subject_name(cert.get(), X509_REQ_get_subject_name(req.get()));
  X509_set_pubkey(cert.get(), req_key);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), static_cast<long>(days) * 86400);
  const bool rsa = EVP_PKEY_is_a(req_key, "RSA");
  if (!add_ext(cert.get(), ca, NID_basic_constraints, "critical,CA:FALSE") ||
      !add_ext(cert.get(), ca, NID_key_usage,
               rsa ? "critical,digitalSignature,keyEncipherment" : "critical,digitalSignature") ||
      !add_ext(cert.get(), ca, NID_ext_key_usage, "serverAuth") ||
      !add_ext(cert.get(), ca, NID_subject_key_identifier, "hash") ||
      !add_ext(cert.get(), ca, NID_authority_key_identifier, "keyid")) {
    return absl::InternalError("cannot add certificate extensions");
  }
  // Subject alternative names come from the CSR (what the proxy asked for).
  if (STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req.get())) {
    for (int i = 0; i < sk_X509_EXTENSION_num(exts); ++i) {
      X509_EXTENSION* ext = sk_X509_EXTENSION_value(exts, i);
      if (OBJ_obj2nid(X509_EXTENSION_get_object(ext)) == NID_subject_alt_name) X509_add_ext(cert.get(), ext, -1);
    }
    sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  }
  if (X509_sign(cert.get(), ca_key, EVP_sha256()) == 0) return absl::InternalError("cannot sign");
  return certificate_to_pem(cert.get()) + certificate_to_pem(ca);
}

}  // namespace zp::ctl
