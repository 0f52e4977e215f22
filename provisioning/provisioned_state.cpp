#include "provisioning/provisioned_state.hpp"

#include "provisioning/state_file_fields.hpp"

namespace zp::provisioning {

using json = nlohmann::json;

json to_json(const provisioned_state& s) {
  const provision_request& c = s.config;
  json certs = json::object();
  certs["rsa"] = c.certificates.rsa ? json(*c.certificates.rsa) : json(nullptr);
  certs["ecdsa"] = c.certificates.ecdsa ? json(*c.certificates.ecdsa) : json(nullptr);
  return {{"format", 1},
          {"provisioned_at", s.provisioned_at},
          {"module_server_ca", c.module_server_ca},
          {"endpoint_client_ca", c.endpoint_client_ca ? json(*c.endpoint_client_ca) : json(nullptr)},
          {"observer_ca", c.observer_ca ? json(*c.observer_ca) : json(nullptr)},
          {"certificates", certs},
          {"endpoint_port", c.endpoint_port},
          {"module_server_port", c.module_server_port},
          {"settings", settings_to_json(c.settings)}};
}

absl::StatusOr<provisioned_state> provisioned_from_json(const json& j) {
  if (auto st = check_format_1(j); !st.ok()) return st;
  provisioned_state out;
  provision_request& c = out.config;
  if (!j.contains("module_server_ca") || !j["module_server_ca"].is_string())
    return invalid_field("module_server_ca", "missing");
  c.module_server_ca = j["module_server_ca"].get<std::string>();
  if (j.contains("endpoint_client_ca") && j["endpoint_client_ca"].is_string()) {
    c.endpoint_client_ca = j["endpoint_client_ca"].get<std::string>();
  }
  if (j.contains("observer_ca") && j["observer_ca"].is_string()) c.observer_ca = j["observer_ca"].get<std::string>();
  if (!j.contains("certificates") || !j["certificates"].is_object()) return invalid_field("certificates", "missing");
  const json& certs = j["certificates"];
  if (certs.contains("rsa") && certs["rsa"].is_string()) c.certificates.rsa = certs["rsa"].get<std::string>();
  if (certs.contains("ecdsa") && certs["ecdsa"].is_string()) c.certificates.ecdsa = certs["ecdsa"].get<std::string>();
  if (!c.certificates.rsa && !c.certificates.ecdsa) return invalid_field("certificates", "neither rsa nor ecdsa");
  for (const char* port : {"endpoint_port", "module_server_port"}) {
    if (!j.contains(port) || !j[port].is_number_unsigned() || j[port].get<std::uint64_t>() == 0 ||
        j[port].get<std::uint64_t>() > 65535) {
      return invalid_field(port, "missing or out of range");
    }
  }
  c.endpoint_port = j["endpoint_port"].get<std::uint16_t>();
  c.module_server_port = j["module_server_port"].get<std::uint16_t>();
  if (!j.contains("settings")) return invalid_field("settings", "missing");
  auto settings = parse_settings(j["settings"], "settings", proxy::session_settings{});
  if (auto* e = std::get_if<field_error>(&settings)) return invalid_field(e->field, e->message);
  c.settings = std::get<proxy::session_settings>(settings);
  auto at = integer_field(j, "provisioned_at", 0);
  if (!at.ok()) return at.status();
  out.provisioned_at = static_cast<std::time_t>(*at);
  return out;
}

}  // namespace zp::provisioning
