#include "common/atomic_file.hpp"

#include "common/strings.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace zp {
namespace {

absl::Status errno_status(std::string_view what, const std::filesystem::path& path, int err) {
  return absl::InternalError(str_cat(what, " ", path.string(), ": ", std::strerror(err)));
}

absl::Status errno_storage(std::string_view what, const std::filesystem::path& path, int err) {
  return storage_failure(what, path, std::strerror(err));
}

// Closes an fd on scope exit.
struct fd_guard {
  int fd;
  ~fd_guard() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

absl::Status fsync_directory(const std::filesystem::path& dir) {
  fd_guard d{::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
  if (d.fd < 0) return errno_storage("cannot open directory", dir, errno);
  if (::fsync(d.fd) != 0) return errno_storage("cannot fsync directory", dir, errno);
  return absl::OkStatus();
}

absl::Status write_file_atomically(const std::filesystem::path& path, std::string_view data, mode_t mode) {
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  std::string tmp_name = (dir / ("." + path.filename().string() + ".tmp-XXXXXX")).string();
  int raw_fd = ::mkstemp(tmp_name.data());
  // Errors name the file the change is for, not the temporary one beside it.
  if (raw_fd < 0) return errno_storage("cannot create a temporary file for", path, errno);
  fd_guard fd{raw_fd};
  auto fail = [&](std::string_view what, int err) {
    ::unlink(tmp_name.c_str());
    return errno_storage(what, path, err);
  };
  if (::fchmod(fd.fd, mode) != 0) return fail("cannot chmod", errno);
  std::size_t off = 0;
  while (off < data.size()) {
    ssize_t n = ::write(fd.fd, data.data() + off, data.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail("cannot write", errno);
    off += static_cast<std::size_t>(n);
  }
  if (::fsync(fd.fd) != 0) return fail("cannot fsync", errno);
  if (::close(std::exchange(fd.fd, -1)) != 0) return fail("cannot close", errno);
  // Test-only crash point (PROTOCOL.md 4.3 tests): die after the new content is durable
  // but before it replaces the old, the worst instant for a torn state.
  if (const char* crash = std::getenv("ZP_TEST_CRASH_BEFORE_RENAME"); crash != nullptr && path.filename() == crash) {
    ::_exit(86);
  }
  if (::rename(tmp_name.c_str(), path.c_str()) != 0) return fail("cannot rename onto", errno);
  return fsync_directory(dir);
}

absl::StatusOr<std::string> read_file(const std::filesystem::path& path, std::size_t max_size) {
  fd_guard fd{::open(path.c_str(), O_RDONLY | O_CLOEXEC)};
  if (fd.fd < 0) return errno_status("cannot open", path, errno);
  struct stat st {};
  if (::fstat(fd.fd, &st) != 0) return errno_status("cannot stat", path, errno);
  if (!S_ISREG(st.st_mode)) return absl::FailedPreconditionError(str_cat(path.string(), " is not a regular file"));
  if (static_cast<std::size_t>(st.st_size) > max_size) {
    return absl::FailedPreconditionError(str_cat(path.string(), " is larger than ", max_size, " bytes"));
  }
  std::string out(static_cast<std::size_t>(st.st_size), '\0');
  std::size_t off = 0;
  while (off < out.size()) {
    ssize_t n = ::read(fd.fd, out.data() + off, out.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return errno_status("cannot read", path, errno);
    if (n == 0) break;
    off += static_cast<std::size_t>(n);
  }
  out.resize(off);
  return out;
}

absl::Status remove_file_durably(const std::filesystem::path& path) {
  // Test hook, like ZP_TEST_CRASH_BEFORE_RENAME: a removal that fails (as on a read-only
  // or failing disk), which root in a test sandbox cannot provoke with permissions.
  if (const char* fail = std::getenv("ZP_TEST_FAIL_REMOVE"); fail != nullptr && path.filename() == fail) {
    return errno_storage("cannot remove", path, EIO);
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return errno_storage("cannot remove", path, errno);
  return fsync_directory(path.has_parent_path() ? path.parent_path() : ".");
}

}  // namespace zp
