#pragma once
// What provisioning leaves on disk, as plain data with its JSON form:
//   provisioned.json  the configuration in effect (present = provisioned)
//   trust.json        revoked client certificates and the trust history; it outlives
//                     deprovisioning, because revocation is irreversible
// Both are replaced atomically by state_store (PROTOCOL.md 4.3).

#include "provisioning/provision_request.hpp"

#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <string>
#include <vector>

namespace zp::provisioning {

struct provisioned_state {
  provision_request config;
  std::time_t provisioned_at = 0;
};

struct trust_event {
  std::time_t time = 0;
  std::string action;  // "trusted", "revoked", "deprovisioned"
  std::string fingerprint;
  std::string subject;
};

struct trust_state {
  std::vector<std::string> revoked;  // SHA-256 of client certificates, lowercase hex
  std::vector<trust_event> history;
  bool is_revoked(const std::string& fingerprint) const;
};

nlohmann::json to_json(const provisioned_state& s);
/// Parses provisioned.json; errors name the field. Validity windows are not checked
/// here: a certificate that expired while the proxy was down must not stop it from
/// coming back provisioned (the operator rotates it over the API).
absl::StatusOr<provisioned_state> provisioned_from_json(const nlohmann::json& j);
nlohmann::json to_json(const trust_state& t);
absl::StatusOr<trust_state> trust_from_json(const nlohmann::json& j);

}  // namespace zp::provisioning
