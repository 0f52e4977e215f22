#pragma once
// PEM (de)serialisation of keys and certificate chains. Parsing answers with an
// absl::Status because PEM arrives from files and from the network (provisioning).

#include "common/openssl_ptr.hpp"

#include <absl/status/statusor.h>

#include <string>
#include <string_view>
#include <vector>

namespace zp {

/// Parses exactly one private key from PEM (PKCS#8 or traditional).
absl::StatusOr<evp_pkey_ptr> parse_private_key_pem(std::string_view pem);
/// Parses one or more certificates (leaf first for a chain); fails on none or on junk.
absl::StatusOr<std::vector<x509_ptr>> parse_certificates_pem(std::string_view pem);
/// Whether the first certificate of a PEM chain is for `key` (false on junk or none).
bool leaf_is_for_key(std::string_view chain_pem, EVP_PKEY* key);
/// PKCS#8 PEM of a private key.
std::string private_key_to_pem(EVP_PKEY* key);
/// PEM of one certificate.
std::string certificate_to_pem(X509* cert);
/// A certificate request (PKCS#10) as PEM.
std::string csr_to_pem(X509_REQ* csr);

}  // namespace zp
