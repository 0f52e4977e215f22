#pragma once
// Key pairs, self-signed certificates and CSRs, made with OpenSSL 3's EVP API.

#include "common/openssl_ptr.hpp"

#include <absl/status/statusor.h>

#include <chrono>
#include <string>
#include <vector>

namespace zp::provisioning {

enum class key_type { rsa, ecdsa };

/// "rsa" or "ecdsa": the names PROTOCOL.md and file names use.
const char* key_type_name(key_type t);

/// RSA-2048 or ECDSA P-256, fresh from the OS RNG.
absl::StatusOr<evp_pkey_ptr> generate_key(key_type t);
/// A self-signed server certificate for `key`, valid from an hour ago for `lifetime`.
absl::StatusOr<x509_ptr> make_self_signed(EVP_PKEY* key, const std::string& common_name, std::chrono::hours lifetime);
/// A PKCS#10 request for `key` with the given subject CN and SANs; signed with `key`.
absl::StatusOr<x509_req_ptr> make_csr(EVP_PKEY* key, const std::string& common_name,
                                      const std::vector<std::string>& dns_names,
                                      const std::vector<std::string>& ip_addresses);
/// The key type of a key, if it is one we use (RSA ≥ 2048 or EC P-256).
absl::StatusOr<key_type> classify_key(EVP_PKEY* key);

}  // namespace zp::provisioning
