#include "daemon/windows/state_dir_acl.hpp"

#include "common/platform/windows/private_acl.hpp"
#include "common/platform/windows/win32_text.hpp"

#include <aclapi.h>
#include <sddl.h>

namespace zp::windows {
namespace {

// "DOMAIN\name" (or the SID string when the account cannot be looked up).
std::string account_name(PSID sid) {
  wchar_t name[256];
  wchar_t domain[256];
  DWORD name_len = 256, domain_len = 256;
  SID_NAME_USE use{};
  if (::LookupAccountSidW(nullptr, sid, name, &name_len, domain, &domain_len, &use)) {
    return domain_len > 0 ? narrow(domain) + "\\" + narrow(name) : narrow(name);
  }
  wchar_t* text = nullptr;
  if (!::ConvertSidToStringSidW(sid, &text)) return "an unknown account";
  std::string out = narrow(text);
  ::LocalFree(text);
  return out;
}

}  // namespace

bool file_acls_are_kept() {
  const HMODULE ntdll = ::GetModuleHandleW(L"ntdll.dll");
  return ntdll == nullptr || ::GetProcAddress(ntdll, "wine_get_version") == nullptr;
}

std::string state_dir_acl_problem(const std::string& dir) {
  const std::wstring path = widen(dir);
  if (::GetFileAttributesW(path.c_str()) == INVALID_FILE_ATTRIBUTES) return {};
  PACL dacl = nullptr;
  PSECURITY_DESCRIPTOR descriptor = nullptr;
  const DWORD result = ::GetNamedSecurityInfoW(path.c_str(), SE_FILE_OBJECT, DACL_SECURITY_INFORMATION, nullptr,
                                               nullptr, &dacl, nullptr, &descriptor);
  if (result != ERROR_SUCCESS) return "state directory " + dir + ": cannot read its ACL: " + win32_message(result);
  std::string problem;
  if (dacl == nullptr) {
    problem = "state directory " + dir + " has no DACL (everyone has full access)";
  } else {
    for (DWORD i = 0; i < dacl->AceCount && problem.empty(); ++i) {
      ACE_HEADER* header = nullptr;
      if (!::GetAce(dacl, i, reinterpret_cast<void**>(&header)) || header->AceType != ACCESS_ALLOWED_ACE_TYPE) continue;
      auto* ace = reinterpret_cast<ACCESS_ALLOWED_ACE*>(header);
      PSID sid = &ace->SidStart;
      if (!is_trusted_sid(sid, {})) problem = "state directory " + dir + " grants access to " + account_name(sid);
    }
  }
  ::LocalFree(descriptor);
  if (problem.empty()) return {};
  return problem +
         "; only SYSTEM, Administrators and the service may have access (run `zoneproxy service install` "
         "again to reset the ACL of %ProgramData%\\zoneproxy)";
}

}  // namespace zp::windows
