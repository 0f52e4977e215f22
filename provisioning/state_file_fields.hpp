#pragma once
// Fields of the state directory's JSON files (provisioned.json, trust.json): the
// absl::Status idiom of a file read at start, where an error names the field and the
// caller adds the file. (Request bodies have their own idiom, field_error, in
// provision_request.hpp: an answer on the wire, not a start that stops.)

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zp::provisioning {

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

}  // namespace zp::provisioning
