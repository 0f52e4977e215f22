#pragma once
// Signs the proxy's CSRs with a zone CA, on the operator's machine: the CA key never
// goes near the proxy. The certificate carries the CSR's subject and SANs, serverAuth,
// and is valid from an hour ago for `days`.

#include "common/openssl_ptr.hpp"

#include <absl/status/statusor.h>

#include <optional>
#include <string>

namespace zp::ctl {

/// The zone CA's key from PEM. An encrypted key (PKCS#8 "ENCRYPTED PRIVATE KEY", or a
/// legacy "Proc-Type: 4,ENCRYPTED" one) is opened with `passphrase`, or, without one and
/// with `may_prompt`, with a passphrase OpenSSL asks for on the terminal (not echoed).
absl::StatusOr<evp_pkey_ptr> load_ca_key(const std::string& pem, const std::optional<std::string>& passphrase,
                                         bool may_prompt);

/// PEM chain (the new certificate, then the CA certificate) for a PEM CSR.
absl::StatusOr<std::string> sign_csr(const std::string& csr_pem, const std::string& ca_cert_pem, EVP_PKEY* ca_key,
                                     int days);

}  // namespace zp::ctl
