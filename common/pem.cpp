#include "common/pem.hpp"

#include <openssl/err.h>
#include <openssl/pem.h>

#include "common/strings.hpp"

namespace zp {
namespace {

bio_ptr memory_bio(std::string_view text) {
  return bio_ptr(BIO_new_mem_buf(text.data(), static_cast<int>(text.size())));
}

std::string drain(BIO* bio) {
  char* data = nullptr;
  long len = BIO_get_mem_data(bio, &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace

absl::StatusOr<evp_pkey_ptr> parse_private_key_pem(std::string_view pem) {
  ERR_clear_error();
  auto bio = memory_bio(pem);
  // A null passphrase callback with a null user pointer would prompt on a TTY for an
  // encrypted key; an empty passphrase makes encrypted keys fail instead.
  evp_pkey_ptr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, const_cast<char*>("")));
  if (!key) return absl::InvalidArgumentError(str_cat("not a PEM private key: ", openssl_error_string()));
  return key;
}

absl::StatusOr<std::vector<x509_ptr>> parse_certificates_pem(std::string_view pem) {
  ERR_clear_error();
  auto bio = memory_bio(pem);
  std::vector<x509_ptr> certs;
  while (true) {
    x509_ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) break;
    certs.push_back(std::move(cert));
  }
  // Reading stops at the first thing that is not a certificate: end of input is the
  // only acceptable reason.
  unsigned long err = ERR_peek_last_error();
  if (err != 0 && !(ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE)) {
    return absl::InvalidArgumentError(str_cat("bad PEM certificate: ", openssl_error_string()));
  }
  ERR_clear_error();
  if (certs.empty()) return absl::InvalidArgumentError("no PEM certificate found");
  return certs;
}

bool leaf_is_for_key(std::string_view chain_pem, EVP_PKEY* key) {
  auto chain = parse_certificates_pem(chain_pem);
  return chain.ok() && EVP_PKEY_eq(X509_get0_pubkey(chain->front().get()), key) == 1;
}

std::string private_key_to_pem(EVP_PKEY* key) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  return drain(bio.get());
}

std::string certificate_to_pem(X509* cert) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  return drain(bio.get());
}

std::string csr_to_pem(X509_REQ* csr) {
  bio_ptr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), csr);
  return drain(bio.get());
}

}  // namespace zp
