#pragma once
// State on disk is only ever replaced atomically (PROTOCOL.md 4.3): write a temporary
// file beside the target, fsync it, rename it over the target, fsync the directory.
// A crash at any instant leaves the old or the new content, never a mix.

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <sys/types.h>

#include <filesystem>
#include <string>
#include <string_view>

namespace zp {

/// Replaces `path` with `data` atomically, creating it with permission bits `mode`.
absl::Status write_file_atomically(const std::filesystem::path& path, std::string_view data, mode_t mode = 0600);
/// Reads a whole regular file of at most `max_size` bytes; errors name the file.
absl::StatusOr<std::string> read_file(const std::filesystem::path& path, std::size_t max_size = 1 << 20);
/// fsyncs a directory so a rename or unlink in it survives a crash.
absl::Status fsync_directory(const std::filesystem::path& dir);
/// Removes a file durably (unlink + fsync of its directory); absent is fine.
absl::Status remove_file_durably(const std::filesystem::path& path);

/// A change that could not be made durable (no space left, an I/O error, a read-only file
/// system): what the three functions above fail with, the message naming the file the
/// change was for and the system's reason. PROTOCOL.md 4.3 (1.2) answers it 503
/// storage_unavailable; at start it is a local problem to fix, exit status 2.
absl::Status storage_failure(std::string_view what, const std::filesystem::path& path, std::string_view reason);
bool is_storage_failure(const absl::Status& st);

}  // namespace zp
