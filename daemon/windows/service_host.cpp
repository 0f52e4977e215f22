// `zoneproxy service run`: the process the SCM starts. main() calls
// StartServiceCtrlDispatcherW, which calls service_entry() on a new thread and runs the
// control handler on the main thread. The hosted program runs on the service_entry thread.
//
// Concurrency: the SERVICE_STATUS is touched by the control handler (main thread), the
// service thread, the checkpoint ticker and the daemon's notifier (its control thread);
// one SRW lock guards it and every SetServiceStatus call.
#include "daemon/windows/service_host.hpp"
#include "common/platform/windows/win32_text.hpp"
#include "daemon/windows/service_install.hpp"

#include <shlobj.h>

#include <cstdio>
#include <exception>

namespace zp::windows {
namespace {

// How long the SCM should wait between checkpoints before it thinks we hang. The drain
// takes up to drain_timeout (30 s); the ticker below moves the checkpoint every 2 s.
constexpr DWORD k_start_wait_hint_ms = 30'000;
constexpr DWORD k_stop_wait_hint_ms = 10'000;
constexpr DWORD k_checkpoint_period_ms = 2'000;

struct host_state {
  SRWLOCK lock = SRWLOCK_INIT;
  SERVICE_STATUS_HANDLE handle = nullptr;  // set once by service_entry, under lock
  SERVICE_STATUS status{};
  const hosted_program* program = nullptr;  // set before the dispatcher starts; outlives it
  service_options options;
  int exit_code = 0;
};

host_state& state() {
  static host_state s;
  return s;
}

class lock_guard {
 public:
  explicit lock_guard(SRWLOCK& lock) : lock_(lock) { ::AcquireSRWLockExclusive(&lock_); }
  ~lock_guard() { ::ReleaseSRWLockExclusive(&lock_); }
  lock_guard(const lock_guard&) = delete;
  lock_guard& operator=(const lock_guard&) = delete;

 private:
  SRWLOCK& lock_;
};

bool is_pending(DWORD s) { return s == SERVICE_START_PENDING || s == SERVICE_STOP_PENDING; }

// Moves to `next` unless that would go backwards (RUNNING after STOP_PENDING: the drain
// started before the listeners reported ready) or repeat a pending state.
void set_state(DWORD next, DWORD wait_hint_ms) {
  auto& s = state();
  lock_guard guard(s.lock);
  if (s.handle == nullptr) return;
  const DWORD now = s.status.dwCurrentState;
  if (now == SERVICE_STOPPED || (now == SERVICE_STOP_PENDING && next != SERVICE_STOPPED) ||
      (now == next && is_pending(now))) {
    return;
  }
  s.status.dwCurrentState = next;
  // Controls are refused while pending; STOP and SHUTDOWN both mean "drain and exit".
  s.status.dwControlsAccepted = next == SERVICE_RUNNING ? (SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN) : 0;
  s.status.dwCheckPoint = is_pending(next) ? 1 : 0;
  s.status.dwWaitHint = wait_hint_ms;
  ::SetServiceStatus(s.handle, &s.status);
}

void bump_checkpoint() {
  auto& s = state();
  lock_guard guard(s.lock);
  if (s.handle == nullptr || !is_pending(s.status.dwCurrentState)) return;
  ++s.status.dwCheckPoint;
  ::SetServiceStatus(s.handle, &s.status);
}

void report_stopped(int exit_code) {
  auto& s = state();
  lock_guard guard(s.lock);
  if (s.handle == nullptr) return;
  s.status.dwCurrentState = SERVICE_STOPPED;
  s.status.dwControlsAccepted = 0;
  s.status.dwCheckPoint = 0;
  s.status.dwWaitHint = 0;
  // A service-specific error is a failure to the SCM: with the failure-actions flag set at
  // install, the recovery actions (restart) apply to it as they do to a crash.
  s.status.dwWin32ExitCode = exit_code == 0 ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
  s.status.dwServiceSpecificExitCode = static_cast<DWORD>(exit_code);
  ::SetServiceStatus(s.handle, &s.status);
}

DWORD WINAPI control_handler(DWORD control, DWORD, void*, void*) {
  switch (control) {
    case SERVICE_CONTROL_STOP:
    case SERVICE_CONTROL_SHUTDOWN:
      write_event(event_severity::info, control == SERVICE_CONTROL_STOP ? "event=stop_requested control=STOP"
                                                                        : "event=stop_requested control=SHUTDOWN");
      report_stop_pending();
      state().program->request_stop();
      return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
      return NO_ERROR;
    default:
      return ERROR_CALL_NOT_IMPLEMENTED;
  }
}

// While a start or a drain is pending, tells the SCM every 2 s that we make progress, so
// a 30 s drain is not mistaken for a hang. Ends when the hosted program returns.
DWORD WINAPI checkpoint_ticker(void* run_done) {
  while (::WaitForSingleObject(static_cast<HANDLE>(run_done), k_checkpoint_period_ms) == WAIT_TIMEOUT) {
    bump_checkpoint();
  }
  return 0;
}

int run_program(const service_options& options) {
  // An exception escaping into the SCM's thread would end the process without STOPPED.
  try {
    return state().program->run(options);
  } catch (const std::exception& e) {
    write_event(event_severity::error, std::string("event=service_failed error=\"") + e.what() + "\"");
  } catch (...) {
    write_event(event_severity::error, "event=service_failed error=unknown");
  }
  return 1;
}

void WINAPI service_entry(DWORD, LPWSTR*) {
  auto& s = state();
  const SERVICE_STATUS_HANDLE handle =
      ::RegisterServiceCtrlHandlerExW(widen(k_service_name).c_str(), control_handler, nullptr);
  if (handle == nullptr) {
    write_event(event_severity::error,
                "event=service_failed error=\"RegisterServiceCtrlHandlerEx: " + win32_message(::GetLastError()) + "\"");
    s.exit_code = 1;
    return;
  }
  {
    lock_guard guard(s.lock);
    s.handle = handle;
    s.status.dwServiceType = SERVICE_WIN32_OWN_PROCESS;
    s.status.dwCurrentState = SERVICE_START_PENDING;
    s.status.dwCheckPoint = 1;
    s.status.dwWaitHint = k_start_wait_hint_ms;
    ::SetServiceStatus(handle, &s.status);
  }
  write_event(event_severity::info, "event=service_starting config=\"" + s.options.config_file + "\" state_dir=\"" +
                                        s.options.state_dir + "\"");

  HANDLE run_done = ::CreateEventW(nullptr, TRUE, FALSE, nullptr);
  HANDLE ticker = run_done != nullptr ? ::CreateThread(nullptr, 0, checkpoint_ticker, run_done, 0, nullptr) : nullptr;
  s.exit_code = run_program(s.options);
  if (run_done != nullptr) ::SetEvent(run_done);
  if (ticker != nullptr) {
    ::WaitForSingleObject(ticker, INFINITE);
    ::CloseHandle(ticker);
  }
  if (run_done != nullptr) ::CloseHandle(run_done);

  write_event(s.exit_code == 0 ? event_severity::info : event_severity::error,
              "event=service_stopped exit_code=" + std::to_string(s.exit_code));
  report_stopped(s.exit_code);  // the last call: the SCM may end the process after it
}

int run_service(const service_options& options, const hosted_program& program) {
  auto& s = state();
  s.program = &program;
  s.options = options;
  std::wstring name = widen(k_service_name);
  SERVICE_TABLE_ENTRYW table[] = {{name.data(), service_entry}, {nullptr, nullptr}};
  if (!::StartServiceCtrlDispatcherW(table)) {
    const DWORD error = ::GetLastError();
    if (error == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
      std::fprintf(stderr,
                   "zoneproxy: error: service run: not started by the Service Control Manager "
                   "(use `sc start zoneproxy`, or `zoneproxy run` in a console)\n");
      return 2;
    }
    std::fprintf(stderr, "zoneproxy: error: service run: StartServiceCtrlDispatcher: %s\n",
                 win32_message(error).c_str());
    return 1;
  }
  return s.exit_code;
}

}  // namespace

bool hosted_by_scm() {
  auto& s = state();
  lock_guard guard(s.lock);
  return s.handle != nullptr;
}

void report_running() { set_state(SERVICE_RUNNING, 0); }

void report_stop_pending() { set_state(SERVICE_STOP_PENDING, k_stop_wait_hint_ms); }

std::string program_data_dir() {
  wchar_t* path = nullptr;
  std::string dir = "C:\\ProgramData";
  if (::SHGetKnownFolderPath(FOLDERID_ProgramData, 0, nullptr, &path) == S_OK) dir = narrow(path);
  ::CoTaskMemFree(path);
  return dir;
}

int service_main(const std::vector<std::string>& args, const hosted_program& program) {
  const parse_result parsed = parse_service_args(args, program_data_dir());
  if (!parsed.options) {
    std::fprintf(stderr, "zoneproxy: error: %s\n%s", parsed.error.c_str(), service_usage().c_str());
    return 2;
  }
  switch (parsed.options->verb) {
    case service_verb::install:
      return install_service(*parsed.options);
    case service_verb::uninstall:
      return uninstall_service();
    case service_verb::run:
      return run_service(*parsed.options, program);
    case service_verb::help:
      break;
  }
  std::fputs(service_usage().c_str(), stdout);
  return 0;
}

}  // namespace zp::windows
