#pragma once
// The zoneproxy process: state directory, control API, data-plane workers, signals.
// Owner of every long-lived object; run() returns the process exit status.

#include "common/daemon_config.hpp"

#include <absl/status/status.h>

namespace zp {

/// Runs the daemon until SIGINT/SIGTERM. Start-up failures come back as a Status whose
/// message is one line naming the file, key or value at fault.
absl::Status run_daemon(const daemon_config& config);

/// Raises RLIMIT_NOFILE's soft limit to the hard limit; answers the limit now in force.
std::uint64_t raise_fd_limit();

}  // namespace zp
