#pragma once
// The inbound Windows Firewall rules that `zoneproxy service install` adds and `service
// uninstall` removes (internal to the service host): one rule per port, so that an
// administrator can narrow 17487 and 17488 to the Module Server's addresses without
// touching 17486, each bound to zoneproxy.exe so no other program can listen behind it.
// Through the firewall's COM API (INetFwPolicy2), the same rules from a console install
// and from the MSI.

#include <string>

namespace zp::windows {

/// Adds the three rules for `exe` (a UTF-8 path), replacing rules of the same names.
/// Empty on success, else one line saying why not (e.g. the firewall service is off, or
/// the system does not implement the API: Wine).
std::string add_firewall_rules(const std::string& exe);

/// Removes the rules; removing absent rules succeeds. Empty on success, else why not.
std::string remove_firewall_rules();

/// The `netsh advfirewall` commands that add the same rules by hand.
std::string firewall_netsh_commands(const std::string& exe);

}  // namespace zp::windows
