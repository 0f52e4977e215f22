#include "provisioning/state_file_fields.hpp"

#include "common/strings.hpp"

#include <nlohmann/json.hpp>

namespace zp::provisioning {

absl::Status invalid_field(std::string_view field, std::string_view message) {
  return absl::InvalidArgumentError(str_cat(field, ": ", message));
}

absl::StatusOr<std::int64_t> integer_field(const nlohmann::json& object, std::string_view name,
                                           std::optional<std::int64_t> if_absent) {
  auto it = object.find(name);
  if (it == object.end()) {
    if (if_absent) return *if_absent;
    return invalid_field(name, "missing");
  }
  if (!it->is_number_integer()) return invalid_field(name, "must be an integer");
  return it->get<std::int64_t>();
}

absl::Status check_format_1(const nlohmann::json& object) {
  if (!object.is_object()) return invalid_field("(top level)", "not an object");
  auto format = integer_field(object, "format", std::nullopt);
  if (!format.ok()) return format.status();
  return *format == 1 ? absl::OkStatus() : invalid_field("format", "unknown format version");
}

absl::StatusOr<std::string> string_field(const nlohmann::json& object, std::string_view name,
                                         std::optional<std::string> if_absent) {
  auto it = object.find(name);
  if (it == object.end()) {
    if (if_absent) return *if_absent;
    return invalid_field(name, "missing");
  }
  if (!it->is_string()) return invalid_field(name, "must be a string");
  return it->get<std::string>();
}

}  // namespace zp::provisioning
