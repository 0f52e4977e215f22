// Windows: the temporary file is flushed (FlushFileBuffers) and moved over the target with
// MoveFileExW(MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH), which returns once the
// rename is on disk; NTFS journals the directory change, so there is no directory fsync.
// Permission bits do not exist here: a file whose mode gives nothing to group or others
// (0600, a secret) is created with the private DACL of private_acl.hpp; any other takes
// the ACL its folder passes on.
#include "common/atomic_file.hpp"

#include "common/platform/windows/private_acl.hpp"
#include "common/platform/windows/win32_text.hpp"
#include "common/strings.hpp"

#include <cstdlib>
#include <fstream>
#include <random>

namespace zp {
namespace {

namespace fs = std::filesystem;

absl::Status win32_status(std::string_view what, const fs::path& path, DWORD err) {
  return absl::InternalError(str_cat(what, " ", path.string(), ": ", windows::win32_message(err)));
}

absl::Status win32_storage(std::string_view what, const fs::path& path, DWORD err) {
  return storage_failure(what, path, windows::win32_message(err));
}

// Closes a HANDLE on scope exit.
struct handle_guard {
  HANDLE h;
  ~handle_guard() {
    if (h != INVALID_HANDLE_VALUE) ::CloseHandle(h);
  }
};

}  // namespace

absl::Status fsync_directory(const fs::path&) { return absl::OkStatus(); }

absl::Status write_file_atomically(const fs::path& path, std::string_view data, mode_t mode) {
  const fs::path dir = path.has_parent_path() ? path.parent_path() : ".";
  windows::security_descriptor_ptr descriptor;
  if ((mode & 077) == 0) {
    descriptor = windows::private_security_descriptor();
    if (!descriptor) return win32_status("cannot build the ACL for a file in", dir, ::GetLastError());
  }
  SECURITY_ATTRIBUTES sa{sizeof sa, descriptor.get(), FALSE};
  std::random_device random;
  fs::path tmp;
  handle_guard file{INVALID_HANDLE_VALUE};
  for (int attempt = 0; attempt < 16 && file.h == INVALID_HANDLE_VALUE; ++attempt) {
    tmp = dir / str_cat(".", path.filename().string(), ".tmp-", random() % 1000000);
    file.h = ::CreateFileW(tmp.c_str(), GENERIC_WRITE, 0, descriptor ? &sa : nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL,
                           nullptr);
    if (file.h == INVALID_HANDLE_VALUE && ::GetLastError() != ERROR_FILE_EXISTS) {
      return win32_storage("cannot create a temporary file for", path, ::GetLastError());
    }
  }
  if (file.h == INVALID_HANDLE_VALUE)
    return win32_storage("cannot create a temporary file for", path, ERROR_FILE_EXISTS);
  // Errors name the file the change is for, not the temporary one beside it.
  auto fail = [&](std::string_view what, DWORD err) {
    ::CloseHandle(std::exchange(file.h, INVALID_HANDLE_VALUE));
    ::DeleteFileW(tmp.c_str());
    return win32_storage(what, path, err);
  };
  std::size_t off = 0;
  while (off < data.size()) {
    DWORD written = 0;
    const auto chunk = static_cast<DWORD>(std::min<std::size_t>(data.size() - off, 1 << 30));
    if (!::WriteFile(file.h, data.data() + off, chunk, &written, nullptr))
      return fail("cannot write", ::GetLastError());
    off += written;
  }
  if (!::FlushFileBuffers(file.h)) return fail("cannot flush", ::GetLastError());
  ::CloseHandle(std::exchange(file.h, INVALID_HANDLE_VALUE));
  // Test-only crash point, as on POSIX (PROTOCOL.md 4.3 tests).
  if (const char* crash = std::getenv("ZP_TEST_CRASH_BEFORE_RENAME"); crash != nullptr && path.filename() == crash) {
    std::_Exit(86);
  }
  if (!::MoveFileExW(tmp.c_str(), path.c_str(), MOVEFILE_REPLACE_EXISTING | MOVEFILE_WRITE_THROUGH)) {
    const DWORD err = ::GetLastError();
    ::DeleteFileW(tmp.c_str());
    return win32_storage("cannot rename onto", path, err);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> read_file(const fs::path& path, std::size_t max_size) {
  std::error_code ec;
  const auto status = fs::status(path, ec);
  if (ec) return absl::InternalError(str_cat("cannot open ", path.string(), ": ", ec.message()));
  if (!fs::is_regular_file(status))
    return absl::FailedPreconditionError(str_cat(path.string(), " is not a regular file"));
  const auto size = fs::file_size(path, ec);
  if (ec) return absl::InternalError(str_cat("cannot stat ", path.string(), ": ", ec.message()));
  if (size > max_size)
    return absl::FailedPreconditionError(str_cat(path.string(), " is larger than ", max_size, " bytes"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InternalError(str_cat("cannot open ", path.string()));
  std::string out(static_cast<std::size_t>(size), '\0');
  in.read(out.data(), static_cast<std::streamsize>(out.size()));
  out.resize(static_cast<std::size_t>(in.gcount()));
  return out;
}

absl::Status remove_file_durably(const fs::path& path) {
  if (const char* fail = std::getenv("ZP_TEST_FAIL_REMOVE"); fail != nullptr && path.filename() == fail) {
    return win32_storage("cannot remove", path, ERROR_WRITE_FAULT);
  }
  if (!::DeleteFileW(path.c_str())) {
    const DWORD err = ::GetLastError();
    if (err != ERROR_FILE_NOT_FOUND && err != ERROR_PATH_NOT_FOUND) return win32_storage("cannot remove", path, err);
  }
  return absl::OkStatus();
}

}  // namespace zp
