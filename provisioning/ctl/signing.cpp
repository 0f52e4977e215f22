#include "provisioning/ctl/signing.hpp"

#include "common/atomic_file.hpp"
#include "common/strings.hpp"
#include "common/terminal.hpp"
#include "provisioning/ctl/csr_signer.hpp"

#include <cstdio>
#include <filesystem>
#include <iostream>

namespace zp::ctl {

using json = nlohmann::json;

std::optional<zone_ca> open_zone_ca(const std::string& ca_cert, const std::string& ca_key,
                                    const std::string& ca_key_pass_file, int& rc) {
  zone_ca ca{read_or_die(ca_cert, "--zone-ca-cert"), nullptr};
  std::optional<std::string> passphrase;
  if (!ca_key_pass_file.empty()) {
    // The first line of the file, as openssl's -passin file: reads it.
    const std::string text = read_or_die(ca_key_pass_file, "--zone-ca-key-pass-file");
    passphrase = text.substr(0, text.find_first_of("\r\n"));
  }
  auto key = load_ca_key(read_or_die(ca_key, "--zone-ca-key"), passphrase, is_terminal(stdin));
  if (!key.ok()) {
    rc = fail(str_cat("--zone-ca-key ", ca_key, ": ", key.status().message()), k_usage);
    return std::nullopt;
  }
  ca.key = std::move(*key);
  return ca;
}

std::optional<json> sign_csrs(const json& csrs, const zone_ca& ca, int days, int& rc) {
  json certs = json::object();
  for (const char* type : {"rsa", "ecdsa"}) {
    auto chain = sign_csr(csrs[type].get<std::string>(), ca.cert_pem, ca.key.get(), days);
    if (!chain.ok()) {
      rc = fail(str_cat("signing the ", type, " CSR: ", chain.status().message()), k_usage);
      return std::nullopt;
    }
    certs[type] = *chain;
  }
  return certs;
}

json names_body(const std::string& cn, const std::vector<std::string>& dns, const std::vector<std::string>& ips) {
  return json{{"common_name", cn}, {"dns_names", dns}, {"ip_addresses", ips}};
}

std::optional<json> signed_certificates(const globals& g, api_client& client, int& rc, const std::string& cn,
                                        const std::vector<std::string>& dns, const std::vector<std::string>& ips,
                                        const std::string& ca_cert, const std::string& ca_key,
                                        const std::string& ca_key_pass_file, int days) {
  auto ca = open_zone_ca(ca_cert, ca_key, ca_key_pass_file, rc);
  if (!ca) return std::nullopt;
  auto csrs = call(g, client, rc, "POST", "/v1/csr", names_body(cn, dns, ips));
  if (!csrs) return std::nullopt;
  return sign_csrs(*csrs, *ca, days, rc);
}

bool write_csrs(const globals& g, const json& csrs, const std::string& dir, int& rc) {
  for (const char* type : {"rsa", "ecdsa"}) {
    const auto file = std::filesystem::path(dir) / str_cat(type, ".csr");
    if (auto st = write_file_atomically(file, csrs[type].get<std::string>(), 0644); !st.ok()) {
      rc = fail(str_cat("--out: ", st.message()), k_usage);
      return false;
    }
    if (!g.json_out) std::cout << "wrote " << file.string() << "\n";
  }
  return true;
}

json certificates_from(const std::string& dir) {
  json certs = json::object();
  for (const char* type : {"rsa", "ecdsa"}) {
    const auto file = std::filesystem::path(dir) / str_cat(type, ".crt");
    certs[type] = read_or_die(file.string(), "--certificates-from");
  }
  return certs;
}

}  // namespace zp::ctl
