#pragma once
// `zoneproxy service install|uninstall` (internal to the service host). Both are
// idempotent: install over an existing service updates it; uninstall of an absent service
// succeeds.

#include "daemon/windows/service_cli.hpp"

namespace zp::windows {

/// Registers the automatic-start service (account NT SERVICE\zoneproxy, restart on
/// failure, least privileges), the Event Log source, and %ProgramData%\zoneproxy with a
/// protected ACL. Does not start it. Returns the exit code.
int install_service(const service_options& options);

/// Stops the service (waiting for its drain), deletes it and the Event Log source.
/// Keeps %ProgramData%\zoneproxy (identity keys and provisioned state).
int uninstall_service();

}  // namespace zp::windows
