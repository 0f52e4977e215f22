#pragma once
// Signs the proxy's CSRs with a zone CA, on the operator's machine: the CA key never
// goes near the proxy. The certificate carries the CSR's subject and SANs, serverAuth,
// and is valid from an hour ago for `days`.

#include <absl/status/statusor.h>

#include <string>

namespace zp::ctl {

/// PEM chain (the new certificate, then the CA certificate) for a PEM CSR.
absl::StatusOr<std::string> sign_csr(const std::string& csr_pem, const std::string& ca_cert_pem,
                                     const std::string& ca_key_pem, int days);

}  // namespace zp::ctl
