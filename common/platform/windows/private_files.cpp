// Windows: the state directory, key directories and secret files are created with a
// protected DACL (no inherited entries) granting full control to this account, SYSTEM
// and Administrators only (private_acl.hpp). The check accepts exactly those, plus service
// SIDs (NT SERVICE\..., the identity `zoneproxy service install` gives the service).
// Ownership is not checked: a directory an administrator created for the service is
// owned by Administrators, and the DACL is what decides who may read the keys.
#include "common/private_files.hpp"

#include "common/atomic_file.hpp"
#include "common/platform/windows/private_acl.hpp"
#include "common/platform/windows/win32_text.hpp"
#include "common/strings.hpp"

#include <aclapi.h>
#include <sddl.h>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>

namespace zp {
namespace windows {

std::string current_user_sid() {
  HANDLE token = nullptr;
  if (!::OpenProcessToken(::GetCurrentProcess(), TOKEN_QUERY, &token)) return {};
  DWORD size = 0;
  ::GetTokenInformation(token, TokenUser, nullptr, 0, &size);
  auto buffer = std::make_unique<unsigned char[]>(size);
  std::string out;
  if (::GetTokenInformation(token, TokenUser, buffer.get(), size, &size)) {
    wchar_t* text = nullptr;
    if (::ConvertSidToStringSidW(reinterpret_cast<TOKEN_USER*>(buffer.get())->User.Sid, &text)) {
      out = narrow(text);
      ::LocalFree(text);
    }
  }
  ::CloseHandle(token);
  return out;
}

security_descriptor_ptr private_security_descriptor() {
  const std::string self = current_user_sid();
  const std::wstring sddl =
      widen(str_cat("D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)", self.empty() ? "" : str_cat("(A;OICI;FA;;;", self, ")")));
  PSECURITY_DESCRIPTOR raw = nullptr;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1, &raw, nullptr)) {
    return nullptr;
  }
  return security_descriptor_ptr(raw);
}

bool is_trusted_sid(PSID sid, const std::string& self) {
  if (::IsWellKnownSid(sid, WinLocalSystemSid) || ::IsWellKnownSid(sid, WinBuiltinAdministratorsSid)) return true;
  const SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;
  const PSID_IDENTIFIER_AUTHORITY authority = ::GetSidIdentifierAuthority(sid);
  if (std::memcmp(authority, &nt, sizeof nt) == 0 && *::GetSidSubAuthorityCount(sid) >= 1 &&
      *::GetSidSubAuthority(sid, 0) == SECURITY_SERVICE_ID_BASE_RID) {
    return true;
  }
  if (self.empty()) return false;
  wchar_t* text = nullptr;
  if (!::ConvertSidToStringSidW(sid, &text)) return false;
  const bool same = narrow(text) == self;
  ::LocalFree(text);
  return same;
}

}  // namespace windows

namespace {

namespace fs = std::filesystem;

absl::Status win32_error(std::string_view what, const fs::path& p, DWORD err) {
  return absl::FailedPreconditionError(str_cat(what, " ", p.string(), ": ", windows::win32_message(err)));
}

std::string sid_text(PSID sid) {
  wchar_t* text = nullptr;
  if (!::ConvertSidToStringSidW(sid, &text)) return "an unknown account";
  std::string out = windows::narrow(text);
  ::LocalFree(text);
  return out;
}

// OK, or an error naming the first account other than the trusted ones that `path`'s
// DACL lets in.
absl::Status check_acl(const fs::path& path, std::string_view what) {
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR raw = nullptr;
  const DWORD result = ::GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                                               nullptr, &dacl, nullptr, &raw);
  if (result != ERROR_SUCCESS) return win32_error(str_cat("cannot read the ACL of ", what), path, result);
  windows::security_descriptor_ptr descriptor(raw);
  if (dacl == nullptr) {
    return absl::FailedPreconditionError(str_cat(what, " ", path.string(), " has no DACL (everyone has full access)"));
  }
  const std::string self = windows::current_user_sid();
  for (DWORD i = 0; i < dacl->AceCount; ++i) {
    ACE_HEADER* header = nullptr;
    if (!::GetAce(dacl, i, reinterpret_cast<void**>(&header)) || header->AceType != ACCESS_ALLOWED_ACE_TYPE) continue;
    PSID sid = &reinterpret_cast<ACCESS_ALLOWED_ACE*>(header)->SidStart;
    if (!windows::is_trusted_sid(sid, self)) {
      return absl::FailedPreconditionError(
          str_cat(what, " ", path.string(), " grants access to ", sid_text(sid),
                  "; only this account, SYSTEM, Administrators and the service may have access (icacls ", path.string(),
                  " /inheritance:r /grant:r *S-1-5-18:F *S-1-5-32-544:F)"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ensure_private_directory(const fs::path& dir) {
  const DWORD attributes = ::GetFileAttributesW(dir.c_str());
  if (attributes == INVALID_FILE_ATTRIBUTES) {
    std::error_code ec;
    fs::create_directories(dir.parent_path(), ec);
    if (ec)
      return absl::FailedPreconditionError(str_cat("cannot create ", dir.parent_path().string(), ": ", ec.message()));
    auto descriptor = windows::private_security_descriptor();
    if (!descriptor) return win32_error("cannot build the ACL for state directory", dir, ::GetLastError());
    SECURITY_ATTRIBUTES sa{sizeof sa, descriptor.get(), FALSE};
    if (!::CreateDirectoryW(dir.c_str(), &sa) && ::GetLastError() != ERROR_ALREADY_EXISTS) {
      return win32_error("cannot create state directory", dir, ::GetLastError());
    }
  } else if ((attributes & FILE_ATTRIBUTE_DIRECTORY) == 0) {
    return absl::FailedPreconditionError(str_cat(dir.string(), " is not a directory"));
  }
  return check_acl(dir, "state directory");
}

absl::Status check_private_file(const fs::path& file) {
  const DWORD attributes = ::GetFileAttributesW(file.c_str());
  if (attributes == INVALID_FILE_ATTRIBUTES) return win32_error("cannot stat", file, ::GetLastError());
  if ((attributes & (FILE_ATTRIBUTE_DIRECTORY | FILE_ATTRIBUTE_REPARSE_POINT)) != 0) {
    return absl::FailedPreconditionError(str_cat(file.string(), " is not a regular file"));
  }
  return check_acl(file, "secret file");
}

absl::StatusOr<fs::path> make_private_temp_directory(const fs::path& parent, std::string_view prefix) {
  auto descriptor = windows::private_security_descriptor();
  if (!descriptor) return win32_error("cannot build the ACL for a directory in", parent, ::GetLastError());
  SECURITY_ATTRIBUTES sa{sizeof sa, descriptor.get(), FALSE};
  std::random_device random;
  for (int attempt = 0; attempt < 16; ++attempt) {
    fs::path candidate = parent / str_cat(prefix, random() % 1000000);
    if (::CreateDirectoryW(candidate.c_str(), &sa)) return candidate;
    if (::GetLastError() != ERROR_ALREADY_EXISTS) {
      return win32_error("cannot create temporary directory in", parent, ::GetLastError());
    }
  }
  return win32_error("cannot create temporary directory in", parent, ERROR_ALREADY_EXISTS);
}

absl::Status rename_directory_durably(const fs::path& from, const fs::path& to) {
  // Test-only crash point, as in write_file_atomically (key rotation tests).
  if (const char* crash = std::getenv("ZP_TEST_CRASH_BEFORE_RENAME"); crash != nullptr && from.filename() == crash) {
    std::_Exit(86);
  }
  if (!::MoveFileExW(from.c_str(), to.c_str(), MOVEFILE_WRITE_THROUGH)) {
    const DWORD err = ::GetLastError();
    return storage_failure("cannot rename keys into", to, windows::win32_message(err));
  }
  return absl::OkStatus();
}

}  // namespace zp
