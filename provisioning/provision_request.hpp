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

/// A rejected field as the Status a state file's parser returns: "field: message".
absl::Status invalid_field(std::string_view field, std::string_view message);
/// A state file's integer member `name` of `object`, `if_absent` when it is missing (an
/// error when that is nullopt); a member of another type is an error naming it.
absl::StatusOr<std::int64_t> integer_field(const nlohmann::json& object, std::string_view name,
                                           std::optional<std::int64_t> if_absent);
/// A state file's top level: an object with "format": 1.
absl::Status check_format_1(const nlohmann::json& object);
/// The same for a string member.
absl::StatusOr<std::string> string_field(const nlohmann::json& object, std::string_view name,
                                         std::optional<std::string> if_absent);

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

/// Bounds on settings, chosen so no value can exhaust the machine or stall a session
/// for ever by accident. The table preallocates for max_pending.
inline constexpr std::uint64_t k_max_timeout_s = 7 * 24 * 3600;
inline constexpr std::uint64_t k_max_sessions_limit = 10'000'000;
inline constexpr std::uint64_t k_max_pending_limit = 1'000'000;
inline constexpr std::uint64_t k_max_admitting_limit = 1'000'000;
inline constexpr std::uint64_t k_max_early_data_limit = std::uint64_t{1} << 40;
inline constexpr std::uint64_t k_max_keepalive_s = 32767;    // TCP_KEEPIDLE, TCP_KEEPINTVL on Linux
inline constexpr std::uint64_t k_max_keepalive_count = 127;  // TCP_KEEPCNT on Linux

template <typename T>
using validated = std::variant<T, field_error>;

/// Parses a JSON text that must be an object.
validated<nlohmann::json> parse_json_object(std::string_view body);
validated<provision_request> parse_provision(const nlohmann::json& body, const validation_context& ctx);
validated<certificate_set> parse_certificates(const nlohmann::json& certificates, std::string_view field,
                                              const validation_context& ctx);
/// Applies a subset of settings over `current`.
validated<proxy::session_settings> parse_settings(const nlohmann::json& settings, std::string_view field,
                                                  const proxy::session_settings& current);
validated<csr_request> parse_csr(const nlohmann::json& body);
/// 64 lowercase-or-uppercase hex characters, returned lowercase.
validated<std::string> parse_fingerprint(const nlohmann::json& body);
/// Validates PEM CA certificates (at least one; each a CA, valid now).
std::optional<field_error> check_ca_pem(const std::string& pem, std::string_view field, std::time_t now);

/// settings as the JSON object of PROTOCOL.md 4.2.
nlohmann::json settings_to_json(const proxy::session_settings& s);

}  // namespace zp::provisioning
