#include "common/atomic_file.hpp"

#include "common/strings.hpp"

#include <absl/strings/cord.h>

namespace zp {
namespace {

// A payload, not a status code of its own: the code stays kUnavailable (the cause can go
// away), and only this marks it as the disk's.
constexpr char k_storage_payload[] = "type.zoneproxy/storage-failure";

}  // namespace

absl::Status storage_failure(std::string_view what, const std::filesystem::path& path, std::string_view reason) {
  absl::Status st = absl::UnavailableError(str_cat(what, " ", path.string(), ": ", reason));
  st.SetPayload(k_storage_payload, absl::Cord("1"));
  return st;
}

bool is_storage_failure(const absl::Status& st) { return st.GetPayload(k_storage_payload).has_value(); }

}  // namespace zp
