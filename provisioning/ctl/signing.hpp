#pragma once
// The proxy's certificates, from its CSRs: signed here with the zone CA (the CA key never
// goes near the proxy), or written out for a CA elsewhere and read back from a directory.

#include "common/openssl_ptr.hpp"
#include "provisioning/ctl/cli.hpp"

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

namespace zp::ctl {

/// The zone CA, opened before anything is asked of the proxy: a wrong passphrase changes
/// nothing. Its key may be encrypted (a passphrase file, or a prompt on a terminal).
struct zone_ca {
  std::string cert_pem;
  evp_pkey_ptr key;
};
std::optional<zone_ca> open_zone_ca(const std::string& ca_cert, const std::string& ca_key,
                                    const std::string& ca_key_pass_file, int& rc);
/// The proxy's CSRs ({"rsa", "ecdsa"}) signed with the zone CA: the certificates object.
std::optional<nlohmann::json> sign_csrs(const nlohmann::json& csrs, const zone_ca& ca, int days, int& rc);
/// The body of POST /v1/csr and /v1/keys/rotate.
nlohmann::json names_body(const std::string& cn, const std::vector<std::string>& dns,
                          const std::vector<std::string>& ips);
/// CSRs from the proxy (POST /v1/csr), signed with the zone CA: the certificates object.
std::optional<nlohmann::json> signed_certificates(const globals& g, api_client& client, int& rc, const std::string& cn,
                                                  const std::vector<std::string>& dns,
                                                  const std::vector<std::string>& ips, const std::string& ca_cert,
                                                  const std::string& ca_key, const std::string& ca_key_pass_file,
                                                  int days);
/// Writes DIR/rsa.csr and DIR/ecdsa.csr; false (rc set) if one cannot be written.
bool write_csrs(const globals& g, const nlohmann::json& csrs, const std::string& dir, int& rc);
/// Certificates signed by a CA this tool never sees: DIR/rsa.crt and DIR/ecdsa.crt, each a
/// PEM chain, leaf first, for the CSRs `zoneproxyctl csr --out DIR` wrote.
nlohmann::json certificates_from(const std::string& dir);

}  // namespace zp::ctl
