#include "provisioning/provision_request.hpp"

#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "common/strings.hpp"
#include "provisioning/key_factory.hpp"

#include <openssl/x509v3.h>
#include <asio/ip/address.hpp>
#include <nlohmann/json.hpp>

#include <set>

namespace zp::provisioning {

namespace {

using json = nlohmann::json;

field_error err(std::string_view field, std::string message) { return {std::string(field), std::move(message)}; }

std::string join(std::string_view parent, std::string_view name) {
  return parent.empty() ? std::string(name) : str_cat(parent, ".", name);
}

std::optional<field_error> unknown_fields(const json& obj, std::string_view parent,
                                          std::initializer_list<std::string_view> known) {
  for (const auto& [key, value] : obj.items()) {
    bool ok = false;
    for (auto k : known) ok = ok || key == k;
    if (!ok) return err(join(parent, key), "unknown field");
  }
  return std::nullopt;
}

bool valid_now(X509* cert, std::time_t now) {
  return X509_cmp_time(X509_get0_notBefore(cert), &now) <= 0 && X509_cmp_time(X509_get0_notAfter(cert), &now) >= 0;
}

std::optional<field_error> check_chain(const std::string& pem, std::string_view field, key_type type, EVP_PKEY* ours,
                                       std::time_t now) {
  auto chain = parse_certificates_pem(pem);
  if (!chain.ok()) return err(field, message_of(chain.status()));
  X509* leaf = chain->front().get();
  if (ours == nullptr) return err(field, "this proxy has no key of that type");
  if (EVP_PKEY_eq(X509_get0_pubkey(leaf), ours) != 1) {
    return err(field, str_cat("certificate does not match the proxy's ", key_type_name(type),
                              " key (sign the CSR from POST /v1/csr)"));
  }
  if (X509_check_ca(leaf) != 0) return err(field, "the first certificate is a CA, not the proxy's certificate");
  for (std::size_t i = 0; i < chain->size(); ++i) {
    X509* cert = (*chain)[i].get();
    if (!valid_now(cert, now)) {
      return err(field, str_cat(i == 0 ? "certificate" : str_cat("chain certificate ", i), " is not valid now"));
    }
    if (i + 1 < chain->size()) {
      X509* issuer = (*chain)[i + 1].get();
      // Each certificate must be issued, and signed, by the next one.
      if (X509_check_issued(issuer, cert) != X509_V_OK || X509_verify(cert, X509_get0_pubkey(issuer)) != 1) {
        return err(field, str_cat("chain certificate ", i + 1, " did not issue certificate ", i));
      }
    }
  }
  return std::nullopt;
}

template <typename T>
std::optional<field_error> take_uint(const json& obj, std::string_view parent, std::string_view name, std::uint64_t min,
                                     std::uint64_t max, T& out) {
  auto it = obj.find(std::string(name));
  if (it == obj.end()) return std::nullopt;
  if (!it->is_number_integer()) return err(join(parent, name), "must be an integer");
  // nlohmann keeps negative integers signed; read through int64 to see them.
  const std::int64_t v = it->template get<std::int64_t>();
  if (v < 0 || static_cast<std::uint64_t>(v) < min || static_cast<std::uint64_t>(v) > max) {
    return err(join(parent, name), str_cat("must be between ", min, " and ", max));
  }
  out = static_cast<T>(v);
  return std::nullopt;
}

}  // namespace

validated<json> parse_json_object(std::string_view body) {
  json j = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return err("body", "not valid JSON");
  if (!j.is_object()) return err("body", "must be a JSON object");
  return j;
}

std::optional<field_error> check_ca_pem(const std::string& pem, std::string_view field, std::time_t now) {
  auto certs = parse_certificates_pem(pem);
  if (!certs.ok()) return err(field, message_of(certs.status()));
  for (std::size_t i = 0; i < certs->size(); ++i) {
    X509* cert = (*certs)[i].get();
    if (X509_check_ca(cert) == 0) return err(field, str_cat("certificate ", i, " is not a CA certificate"));
    if (!valid_now(cert, now)) return err(field, str_cat("certificate ", i, " is not valid now"));
  }
  return std::nullopt;
}

validated<certificate_set> parse_certificates(const json& certs, std::string_view field,
                                              const validation_context& ctx) {
  if (!certs.is_object()) return err(field, "must be an object with \"rsa\" and/or \"ecdsa\"");
  if (auto e = unknown_fields(certs, field, {"rsa", "ecdsa"})) return *e;
  certificate_set out;
  for (auto [name, type, key] :
       {std::tuple{"rsa", key_type::rsa, ctx.rsa_key}, std::tuple{"ecdsa", key_type::ecdsa, ctx.ecdsa_key}}) {
    auto it = certs.find(name);
    if (it == certs.end() || it->is_null()) continue;
    const std::string path = join(field, name);
    if (!it->is_string()) return err(path, "must be a PEM string");
    std::string pem = it->get<std::string>();
    if (auto e = check_chain(pem, path, type, key, ctx.now)) return *e;
    (type == key_type::rsa ? out.rsa : out.ecdsa) = std::move(pem);
  }
  if (!out.rsa && !out.ecdsa) return err(field, "at least one of rsa and ecdsa is required");
  return out;
}

validated<proxy::session_settings> parse_settings(const json& s, std::string_view field,
                                                  const proxy::session_settings& current) {
  if (!s.is_object()) return err(field, "must be an object");
  for (const auto& [key, value] : s.items()) {
    if (proxy::find_setting(key) == nullptr) return err(join(field, key), "unknown field");
  }
  proxy::session_settings out = current;
  for (const proxy::setting_def& d : proxy::k_settings) {
    if (d.kind == proxy::setting_kind::cidr_list) continue;
    std::uint64_t v = d.get(out);
    if (auto e = take_uint(s, field, d.key, d.min, d.max, v)) return *e;
    d.set(out, v);
  }
  // PROTOCOL.md 3.7: the load balancers in front of 17486, as CIDR ranges.
  const proxy::setting_def& sources = proxy::def_of(proxy::setting::proxy_protocol_sources);
  if (auto p = s.find(sources.key); p != s.end()) {
    const std::string path = join(field, sources.key);
    if (!p->is_array()) return err(path, "must be an array of CIDR strings");
    if (p->size() > sources.max) return err(path, str_cat("at most ", sources.max, " ranges"));
    std::vector<proxy::cidr> ranges;
    for (const auto& item : *p) {
      auto range = item.is_string() ? proxy::cidr::parse(item.get<std::string>()) : std::nullopt;
      if (!range) return err(path, "each entry must be an IPv4 or IPv6 address or CIDR range, e.g. \"10.0.0.0/24\"");
      ranges.push_back(*range);
    }
    out.proxy_protocol_sources = std::move(ranges);
  }
  return out;
}

validated<provision_request> parse_provision(const json& body, const validation_context& ctx) {
  if (auto e = unknown_fields(body, "",
                              {"module_server_ca", "endpoint_client_ca", "certificates", "endpoint_port",
                               "module_server_port", "settings", "observer_ca"})) {
    return *e;
  }
  provision_request out;
  auto ca = body.find("module_server_ca");
  if (ca == body.end()) return err("module_server_ca", "required");
  if (!ca->is_string()) return err("module_server_ca", "must be a PEM string");
  out.module_server_ca = ca->get<std::string>();
  if (auto e = check_ca_pem(out.module_server_ca, "module_server_ca", ctx.now)) return *e;
  if (auto ep = body.find("endpoint_client_ca"); ep != body.end() && !ep->is_null()) {
    if (!ep->is_string()) return err("endpoint_client_ca", "must be a PEM string");
    out.endpoint_client_ca = ep->get<std::string>();
    if (auto e = check_ca_pem(*out.endpoint_client_ca, "endpoint_client_ca", ctx.now)) return *e;
  }
  if (auto ob = body.find("observer_ca"); ob != body.end() && !ob->is_null()) {
    if (!ob->is_string()) return err("observer_ca", "must be a PEM string");
    out.observer_ca = ob->get<std::string>();
    if (auto e = check_ca_pem(*out.observer_ca, "observer_ca", ctx.now)) return *e;
  }
  auto certs = body.find("certificates");
  if (certs == body.end()) return err("certificates", "required");
  auto parsed = parse_certificates(*certs, "certificates", ctx);
  if (auto* e = std::get_if<field_error>(&parsed)) return *e;
  out.certificates = std::get<certificate_set>(std::move(parsed));
  if (auto e = take_uint(body, "", "endpoint_port", 1, 65535, out.endpoint_port)) return *e;
  if (auto e = take_uint(body, "", "module_server_port", 1, 65535, out.module_server_port)) return *e;
  if (out.endpoint_port == out.module_server_port) {
    return err("module_server_port", "must differ from endpoint_port");
  }
  if (out.endpoint_port == ctx.provisioning_port) return err("endpoint_port", "is the provisioning port");
  if (out.module_server_port == ctx.provisioning_port) return err("module_server_port", "is the provisioning port");
  if (auto s = body.find("settings"); s != body.end()) {
    auto settings = parse_settings(*s, "settings", out.settings);
    if (auto* e = std::get_if<field_error>(&settings)) return *e;
    out.settings = std::get<proxy::session_settings>(settings);
  }
  return out;
}

validated<provision_request> parse_trust_cas(const json& body, const provision_request& current, std::time_t now) {
  if (auto e = unknown_fields(body, "", {"module_server_ca", "observer_ca"})) return *e;
  provision_request out = current;
  if (auto ms = body.find("module_server_ca"); ms != body.end()) {
    if (!ms->is_string()) return err("module_server_ca", "must be a PEM string");
    if (auto e = check_ca_pem(ms->get<std::string>(), "module_server_ca", now)) return *e;
    out.module_server_ca = ms->get<std::string>();
  }
  if (auto ob = body.find("observer_ca"); ob != body.end()) {
    if (ob->is_null()) {
      out.observer_ca.reset();
    } else if (!ob->is_string()) {
      return err("observer_ca", "must be a PEM string or null");
    } else {
      if (auto e = check_ca_pem(ob->get<std::string>(), "observer_ca", now)) return *e;
      out.observer_ca = ob->get<std::string>();
    }
  }
  return out;
}

validated<csr_request> parse_csr(const json& body) {
  if (auto e = unknown_fields(body, "", {"common_name", "dns_names", "ip_addresses"})) return *e;
  csr_request out;
  auto cn = body.find("common_name");
  if (cn == body.end()) return err("common_name", "required");
  if (!cn->is_string() || cn->get<std::string>().empty() || cn->get<std::string>().size() > 64) {
    return err("common_name", "must be a string of 1 to 64 characters");
  }
  out.common_name = cn->get<std::string>();
  for (const char* list : {"dns_names", "ip_addresses"}) {
    auto it = body.find(list);
    if (it == body.end()) continue;
    if (!it->is_array() || it->size() > 100) return err(list, "must be an array of at most 100 strings");
    for (std::size_t i = 0; i < it->size(); ++i) {
      const std::string path = str_cat(list, "[", i, "]");
      const json& v = (*it)[i];
      if (!v.is_string()) return err(path, "must be a string");
      std::string s = v.get<std::string>();
      if (std::string_view(list) == "dns_names") {
        bool ok = !s.empty() && s.size() <= 253;
        for (char c : s) ok = ok && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '*');
        if (!ok) return err(path, "is not a DNS name");
        out.dns_names.push_back(std::move(s));
      } else {
        std::error_code ec;
        asio::ip::make_address(s, ec);
        if (ec) return err(path, "is not an IP address");
        out.ip_addresses.push_back(std::move(s));
      }
    }
  }
  return out;
}

validated<std::string> parse_fingerprint(const json& body) {
  if (auto e = unknown_fields(body, "", {"fingerprint"})) return *e;
  auto it = body.find("fingerprint");
  if (it == body.end()) return err("fingerprint", "required");
  if (!it->is_string()) return err("fingerprint", "must be a string");
  std::string fp = it->get<std::string>();
  bool ok = fp.size() == 64;
  for (char& c : fp) {
    ok = ok && std::isxdigit(static_cast<unsigned char>(c));
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  if (!ok) return err("fingerprint", "must be the SHA-256 of a certificate: 64 hex characters");
  return fp;
}

json settings_to_json(const proxy::session_settings& s) {
  json out = json::object();
  for (const proxy::setting_def& d : proxy::k_settings) {
    if (d.kind != proxy::setting_kind::cidr_list) {
      out[std::string(d.key)] = d.get(s);
      continue;
    }
    json ranges = json::array();
    for (const auto& r : s.proxy_protocol_sources) ranges.push_back(r.to_string());
    out[std::string(d.key)] = std::move(ranges);
  }
  return out;
}

}  // namespace zp::provisioning
