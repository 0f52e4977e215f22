#pragma once
// The Windows service host: the one interface between zoneproxy and the Win32 Service
// Control Manager. The daemon's main hands `zoneproxy service ...` to service_main() with
// two functions (run, request_stop); the service notifier (daemon/service_notifier_
// windows.cpp) reports RUNNING and STOP_PENDING through report_*(). Nothing else in the
// program includes <windows.h>.
//
// Lifecycle of `service run`, as the SCM sees it:
//   START_PENDING (process up)  ->  RUNNING (notifier ready(): listeners are up)
//   -> STOP_PENDING (STOP or SHUTDOWN control, or the daemon drains by itself; checkpoints
//      every 2 s while the drain lasts)  ->  STOPPED (run returned; a non-zero code is
//      reported as a service-specific error, which triggers the recovery actions).

#include "daemon/windows/service_cli.hpp"

#include <functional>
#include <string>
#include <vector>

namespace zp::windows {

/// What the host needs from the program it hosts: the daemon, or a test double.
struct hosted_program {
  /// Runs until stopped; the exit code (0 = clean stop). Called on the service thread.
  std::function<int(const service_options&)> run;
  /// Asks `run` to drain and return. Called on the SCM's control thread: must not block.
  std::function<void()> request_stop;
};

/// `zoneproxy service <args>`: `args` are the words after "service". Returns the exit code.
int service_main(const std::vector<std::string>& args, const hosted_program& program);

/// True while this process is a service that `service run` registered with the SCM.
bool hosted_by_scm();
/// Listeners are up: SERVICE_RUNNING (accepts STOP and SHUTDOWN). No-op when not hosted.
void report_running();
/// The drain started: SERVICE_STOP_PENDING. Idempotent; no-op when not hosted.
void report_stop_pending();

/// %ProgramData% (C:\ProgramData), UTF-8; from the known-folder API.
std::string program_data_dir();

/// Event Log (Application log, source "zoneproxy"); UTF-8 text, one event per call.
enum class event_severity { info, warning, error };
void write_event(event_severity severity, std::string_view text);

}  // namespace zp::windows
