#pragma once
// The JSON bodies of PROTOCOL.md 4.2, parsed and validated. Every violation is a
// field_error naming the field ("settings.pair_timeout_s", "certificates.rsa"), which
// the API turns into a 400 with the JSON error shape. Pure: the proxy's own keys, the
// clock and the provisioning port come in as arguments, so this is unit-tested and
// fuzzed without a server.

#include "common/openssl_ptr.hpp"
#include "proxy/data_plane_config.hpp"

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <nlohmann/json_fwd.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace zp::provisioning {

/// A rejected field: `field` is the dotted JSON path, `message` says what is wrong.
struct field_error {
  std::string field;
  std::string message;
};

/// PEM texts that passed validation, kept verbatim for persistence.
struct certificate_set {
  std::optional<std::string> rsa;    // PEM chain, leaf first
  std::optional<std::string> ecdsa;  // PEM chain, leaf first
};

/// A validated provision body.
struct provision_request {
  std::string module_server_ca;                   // PEM, one or more CA certificates
  std::optional<std::string> endpoint_client_ca;  // PEM (PROTOCOL.md 4.4)
  std::optional<std::string> observer_ca;         // PEM (PROTOCOL.md 4.5): read-only clients on 17488
  certificate_set certificates;
  std::uint16_t endpoint_port = 17486;
  std::uint16_t module_server_port = 17487;
  proxy::session_settings settings;
};

/// POST /v1/csr.
struct csr_request {
  std::string common_name;
  std::vector<std::string> dns_names;
  std::vector<std::string> ip_addresses;
};

/// What validation needs to know about this proxy.
struct validation_context {
  EVP_PKEY* rsa_key = nullptr;  // the proxy's data-plane keys (certificates must match)
  EVP_PKEY* ecdsa_key = nullptr;
  std::uint16_t provisioning_port = 17488;
  std::time_t now = 0;
};

template <typename T>
using validated = std::variant<T, field_error>;

/// Parses a JSON text that must be an object.
validated<nlohmann::json> parse_json_object(std::string_view body);
validated<provision_request> parse_provision(const nlohmann::json& body, const validation_context& ctx);
validated<certificate_set> parse_certificates(const nlohmann::json& certs, std::string_view field,
                                              const validation_context& ctx);
/// Applies a subset of settings over `current`.
validated<proxy::session_settings> parse_settings(const nlohmann::json& settings, std::string_view field,
                                                  const proxy::session_settings& current);
validated<csr_request> parse_csr(const nlohmann::json& body);
/// PUT /v1/trust/cas (1.1): the CA sets of `current` with the body's replacements.
validated<provision_request> parse_trust_cas(const nlohmann::json& body, const provision_request& current,
                                             std::time_t now);
/// 64 lowercase-or-uppercase hex characters, returned lowercase.
validated<std::string> parse_fingerprint(const nlohmann::json& body);
/// Validates PEM CA certificates (at least one; each a CA, valid now).
std::optional<field_error> check_ca_pem(const std::string& pem, std::string_view field, std::time_t now);

/// settings as the JSON object of PROTOCOL.md 4.2.
nlohmann::json settings_to_json(const proxy::session_settings& s);

}  // namespace zp::provisioning
