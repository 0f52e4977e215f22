#include "common/private_files.hpp"

#include "common/atomic_file.hpp"
#include "common/strings.hpp"

#include <spdlog/fmt/fmt.h>

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace zp {
namespace {

namespace fs = std::filesystem;

absl::Status errno_error(std::string_view what, const fs::path& p) {
  return absl::FailedPreconditionError(str_cat(what, " ", p.string(), ": ", std::strerror(errno)));
}

absl::Status check_owned_private_dir(const fs::path& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) return errno_error("cannot stat state directory", dir);
  if (!S_ISDIR(st.st_mode)) return absl::FailedPreconditionError(str_cat(dir.string(), " is not a directory"));
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(str_cat("state directory ", dir.string(), " is owned by uid ", st.st_uid,
                                                 ", not by this process (uid ", ::geteuid(), ")"));
  }
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        fmt::format("state directory {} has mode {:04o}; it must not be accessible to group or others (chmod 700 {})",
                    dir.string(), st.st_mode & 07777, dir.string()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ensure_private_directory(const fs::path& dir) {
  struct stat st {};
  if (::lstat(dir.c_str(), &st) != 0) {
    if (errno != ENOENT) return errno_error("cannot stat state directory", dir);
    std::error_code ec;
    fs::create_directories(dir.parent_path(), ec);
    if (ec)
      return absl::FailedPreconditionError(str_cat("cannot create ", dir.parent_path().string(), ": ", ec.message()));
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return errno_error("cannot create state directory", dir);
    // mkdir's mode is filtered by the umask; make it exactly 0700.
    if (::chmod(dir.c_str(), 0700) != 0) return errno_error("cannot chmod state directory", dir);
  }
  return check_owned_private_dir(dir);
}

absl::Status check_private_file(const fs::path& file) {
  struct stat st {};
  if (::lstat(file.c_str(), &st) != 0) return errno_error("cannot stat", file);
  if (!S_ISREG(st.st_mode)) return absl::FailedPreconditionError(str_cat(file.string(), " is not a regular file"));
  if ((st.st_mode & 077) != 0) {
    return absl::FailedPreconditionError(
        fmt::format("{} has mode {:04o}; a secret must be readable by its owner only (chmod 600 {})", file.string(),
                    st.st_mode & 07777, file.string()));
  }
  return absl::OkStatus();
}

absl::StatusOr<fs::path> make_private_temp_directory(const fs::path& parent, std::string_view prefix) {
  std::string name = (parent / str_cat(prefix, "XXXXXX")).string();
  if (::mkdtemp(name.data()) == nullptr) return errno_error("cannot create temporary directory in", parent);
  return fs::path(name);
}

absl::Status rename_directory_durably(const fs::path& from, const fs::path& to) {
  // Test-only crash point, as in write_file_atomically (key rotation tests).
  if (const char* crash = std::getenv("ZP_TEST_CRASH_BEFORE_RENAME"); crash != nullptr && from.filename() == crash) {
    ::_exit(86);
  }
  if (::rename(from.c_str(), to.c_str()) != 0)
    return storage_failure("cannot rename keys into", to, std::strerror(errno));
  return fsync_directory(to.has_parent_path() ? to.parent_path() : ".");
}

}  // namespace zp
