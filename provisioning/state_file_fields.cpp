#include "provisioning/state_file_fields.hpp"

#include "common/strings.hpp"

#include <nlohmann/json.hpp>

namespace zp::provisioning {

absl::Status invalid_field(std::string_view field, std::string_view message) {
  return absl::InvalidArgumentError(str_cat(field, ": ", message));
}

namespace {

// One field of type T: present and of its JSON kind, or `if_absent` when given.
template <typename T, typename IsKind>
absl::StatusOr<T> typed_field(const nlohmann::json& object, std::string_view name, std::optional<T> if_absent,
                              IsKind is_kind, std::string_view kind) {
  auto it = object.find(name);
  if (it == object.end()) {
    if (if_absent) return *std::move(if_absent);
    return invalid_field(name, "missing");
  }
  if (!is_kind(*it)) return invalid_field(name, str_cat("must be ", kind));
  return it->get<T>();
}

}  // namespace

absl::StatusOr<std::int64_t> integer_field(const nlohmann::json& object, std::string_view name,
                                           std::optional<std::int64_t> if_absent) {
  return typed_field(
      object, name, if_absent, [](const nlohmann::json& v) { return v.is_number_integer(); }, "an integer");
}

absl::Status check_format_1(const nlohmann::json& object) {
  if (!object.is_object()) return invalid_field("(top level)", "not an object");
  auto format = integer_field(object, "format", std::nullopt);
  if (!format.ok()) return format.status();
  return *format == 1 ? absl::OkStatus() : invalid_field("format", "unknown format version");
}

absl::StatusOr<std::string> string_field(const nlohmann::json& object, std::string_view name,
                                         std::optional<std::string> if_absent) {
  return typed_field(
      object, name, std::move(if_absent), [](const nlohmann::json& v) { return v.is_string(); }, "a string");
}

}  // namespace zp::provisioning
