#pragma once
// The zoneproxy process: state directory, control API, data-plane workers, signals.
// run_daemon owns every long-lived object; its Status becomes the exit status
// (daemon/main.cpp).

#include "daemon/daemon_config.hpp"

#include <absl/status/status.h>
#include <absl/status/statusor.h>

#include <functional>

namespace zp {

/// Reads the local configuration again (file, then the command line's flags over it), for
/// SIGHUP.
using config_loader = std::function<absl::StatusOr<daemon_config>()>;

/// Runs the daemon until SIGINT/SIGTERM or request_daemon_stop(). Start-up failures come
/// back as a Status whose message is one line naming the file, key or value at fault.
/// SIGHUP calls `reload` (when given) and applies what can change live.
absl::Status run_daemon(const daemon_config& config, const config_loader& reload = {});

/// Asks the running daemon to drain and return, as the first SIGTERM does; a second call
/// stops at once, as a second SIGTERM does. Thread-safe and non-blocking: the Windows
/// service host calls it from the SCM's control thread on STOP and SHUTDOWN. A request
/// made before run_daemon is listening is kept and acted on as soon as it is.
void request_daemon_stop();

}  // namespace zp
