#pragma once
// The Windows counterpart of the state directory's mode-0700 check (provisioning/
// state_store.cpp): the directory holds the identity keys and the provisioned private
// keys, so nobody but SYSTEM, the Administrators group and service accounts may hold
// any access right on it. `service install` sets exactly that ACL; this refuses to start
// on a directory someone has opened up since.

#include <string>

namespace zp::windows {

/// Empty if `dir`'s DACL grants access only to SYSTEM, BUILTIN\Administrators and
/// service SIDs (NT SERVICE\..., S-1-5-80-...); else one line naming the directory, the
/// first other account found and how to fix it. A directory that does not exist yet is
/// fine (the daemon creates it, inheriting the ACL of %ProgramData%\zoneproxy).
std::string state_dir_acl_problem(const std::string& dir);

/// False under Wine, which keeps no file ACLs: it makes one up from the Unix mode of the
/// file on every read, so the check above could only ever refuse there. (Only Wine's
/// ntdll exports wine_get_version; Windows' never does.)
bool file_acls_are_kept();

}  // namespace zp::windows
