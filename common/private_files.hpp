#pragma once
// Files and directories only this process's account may read: the state directory and
// the secrets in it. On POSIX that is the owner and mode 0700/0600; on Windows an ACL
// that grants access to this account, SYSTEM, Administrators and service SIDs only.

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <filesystem>
#include <string_view>

namespace zp {

/// Creates `dir` (and its parents) if absent, private to this account; then checks that
/// it is a directory of this account that nobody else may open. Errors name the path and
/// the fix.
absl::Status ensure_private_directory(const std::filesystem::path& dir);
/// Checks that `file` is a regular file nobody but this account may read.
absl::Status check_private_file(const std::filesystem::path& file);
/// Creates a new, empty private directory in `parent` named `<prefix>XXXXXX`.
absl::StatusOr<std::filesystem::path> make_private_temp_directory(const std::filesystem::path& parent,
                                                                  std::string_view prefix);
/// Renames a directory onto a name that does not exist yet, durably (then the parent is
/// synced).
absl::Status rename_directory_durably(const std::filesystem::path& from, const std::filesystem::path& to);

}  // namespace zp
