#pragma once
// provisioned.json as plain data with its JSON form: the configuration in effect
// (present = provisioned), replaced atomically by state_store (PROTOCOL.md 4.3).
// trust.json's form lives with the rest of trust (provisioning/trust.hpp).

#include "provisioning/provision_request.hpp"

#include <absl/status/statusor.h>
#include <nlohmann/json.hpp>

#include <ctime>
#include <string>

namespace zp::provisioning {

struct provisioned_state {
  provision_request config;
  std::time_t provisioned_at = 0;
};

nlohmann::json to_json(const provisioned_state& s);
/// Parses provisioned.json; errors name the field. Validity windows are not checked
/// here: a certificate that expired while the proxy was down must not stop it from
/// coming back provisioned (the operator rotates it over the API).
absl::StatusOr<provisioned_state> provisioned_from_json(const nlohmann::json& j);

}  // namespace zp::provisioning
