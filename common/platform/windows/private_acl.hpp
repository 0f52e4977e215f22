#pragma once
// The security descriptor of everything private the proxy creates on Windows: a protected
// DACL (nothing inherited) granting full control to SYSTEM, Administrators and the account
// the process runs as, inherited in turn by what is created inside (OICI). Files and
// folders get it explicitly rather than by inheritance, so a secret is private even where
// inheritance does not happen (a parent that was not made by us, Wine).

#include <windows.h>

#include <memory>
#include <string>

namespace zp::windows {

struct local_free {
  void operator()(void* p) const { ::LocalFree(p); }
};
using security_descriptor_ptr = std::unique_ptr<void, local_free>;

/// "S-1-5-..." of the account this process runs as; empty if it cannot be read.
std::string current_user_sid();
/// SYSTEM, Administrators, a service SID (NT SERVICE\...), or `self` (a "S-1-5-..." text;
/// empty trusts no account beyond those).
bool is_trusted_sid(PSID sid, const std::string& self);
/// The private descriptor above, or null (then GetLastError() says why).
security_descriptor_ptr private_security_descriptor();

}  // namespace zp::windows
