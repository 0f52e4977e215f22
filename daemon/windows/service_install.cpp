// Service registration with the SCM, the Event Log source and the data directory ACL.
// Runs elevated (an administrator's console, or the MSI's deferred actions).
#include "daemon/windows/service_install.hpp"
#include "common/platform/windows/win32_text.hpp"
#include "daemon/windows/firewall_rules.hpp"
#include "daemon/windows/service_host.hpp"

#include <aclapi.h>
#include <sddl.h>

#include <cstdio>
#include <vector>

namespace zp::windows {
namespace {

constexpr wchar_t k_display_name[] = L"zoneproxy TLS rendezvous relay";
constexpr wchar_t k_description[] =
    L"Direct Connect zone proxy: pairs endpoint (17486) and Module Server (17487) TLS connections and relays "
    L"them; control API on 17488.";
constexpr wchar_t k_account[] = L"NT SERVICE\\zoneproxy";
constexpr wchar_t k_event_source_key[] = L"SYSTEM\\CurrentControlSet\\Services\\EventLog\\Application\\zoneproxy";
// Restart after 5 s, 5 s, then 30 s; the failure count resets after a day without one.
constexpr DWORD k_restart_delays_ms[] = {5'000, 5'000, 30'000};
constexpr DWORD k_failure_reset_s = 24 * 60 * 60;
constexpr DWORD k_uninstall_stop_timeout_ms = 60'000;

/// Owns an SC_HANDLE.
class sc_handle {
 public:
  explicit sc_handle(SC_HANDLE h) : h_(h) {}
  ~sc_handle() {
    if (h_ != nullptr) ::CloseServiceHandle(h_);
  }
  sc_handle(const sc_handle&) = delete;
  sc_handle& operator=(const sc_handle&) = delete;
  SC_HANDLE get() const { return h_; }
  explicit operator bool() const { return h_ != nullptr; }

 private:
  SC_HANDLE h_;
};

int fail(const char* what, DWORD error) {
  std::fprintf(stderr, "zoneproxy: error: %s: %s\n", what, win32_message(error).c_str());
  return 1;
}

std::wstring this_executable() {
  std::wstring path(MAX_PATH, L'\0');
  while (true) {
    const DWORD n = ::GetModuleFileNameW(nullptr, path.data(), static_cast<DWORD>(path.size()));
    if (n < path.size()) {
      path.resize(n);
      return path;
    }
    path.resize(path.size() * 2);
  }
}

/// A failed step: the Win32 error and what was being set.
struct step_error {
  DWORD code = ERROR_SUCCESS;
  const char* what = "";
};

// Least privilege, the Windows side of the unit's sandbox: restart on failure, its own
// service SID (so the data directory ACL can name it) and only the privilege every
// process needs. All supported since Windows Vista / Server 2008.
step_error configure_service(SC_HANDLE service) {
  SERVICE_DESCRIPTIONW description{const_cast<wchar_t*>(k_description)};
  std::vector<SC_ACTION> actions;
  for (DWORD delay : k_restart_delays_ms) actions.push_back({SC_ACTION_RESTART, delay});
  SERVICE_FAILURE_ACTIONSW failure{};
  failure.dwResetPeriod = k_failure_reset_s;
  failure.cActions = static_cast<DWORD>(actions.size());
  failure.lpsaActions = actions.data();
  // Recovery also for a non-zero exit reported through SERVICE_STOPPED, not only crashes.
  SERVICE_FAILURE_ACTIONS_FLAG on_exit_code{TRUE};
  SERVICE_SID_INFO sid{SERVICE_SID_TYPE_UNRESTRICTED};
  wchar_t privileges[] = L"SeChangeNotifyPrivilege\0";
  SERVICE_REQUIRED_PRIVILEGES_INFOW required{privileges};

  const struct {
    DWORD level;
    void* info;
    const char* what;
  } steps[] = {
      {SERVICE_CONFIG_DESCRIPTION, &description, "description"},
      {SERVICE_CONFIG_FAILURE_ACTIONS, &failure, "failure actions"},
      {SERVICE_CONFIG_FAILURE_ACTIONS_FLAG, &on_exit_code, "failure actions flag"},
      {SERVICE_CONFIG_SERVICE_SID_INFO, &sid, "service SID type"},
      {SERVICE_CONFIG_REQUIRED_PRIVILEGES_INFO, &required, "required privileges"},
  };
  for (const auto& step : steps) {
    if (::ChangeServiceConfig2W(service, step.level, step.info)) continue;
    const DWORD error = ::GetLastError();
    // Windows has had every level above since Vista; a service manager that answers
    // "invalid level" is not Windows' (Wine's implements none of the last three). The
    // service still runs there, without that hardening: say so, do not fail the install.
    if (error == ERROR_INVALID_LEVEL || error == ERROR_CALL_NOT_IMPLEMENTED) {
      std::fprintf(stderr,
                   "zoneproxy: warning: service install: %s not set: this Service Control Manager does not "
                   "implement it\n",
                   step.what);
      continue;
    }
    return {error, step.what};
  }
  return {};
}

DWORD register_event_source(const std::wstring& exe) {
  HKEY key = nullptr;
  LSTATUS rc =
      ::RegCreateKeyExW(HKEY_LOCAL_MACHINE, k_event_source_key, 0, nullptr, 0, KEY_SET_VALUE, nullptr, &key, nullptr);
  if (rc != ERROR_SUCCESS) return static_cast<DWORD>(rc);
  const DWORD types = EVENTLOG_ERROR_TYPE | EVENTLOG_WARNING_TYPE | EVENTLOG_INFORMATION_TYPE;
  rc = ::RegSetValueExW(key, L"EventMessageFile", 0, REG_EXPAND_SZ, reinterpret_cast<const BYTE*>(exe.c_str()),
                        static_cast<DWORD>((exe.size() + 1) * sizeof(wchar_t)));
  if (rc == ERROR_SUCCESS) {
    rc = ::RegSetValueExW(key, L"TypesSupported", 0, REG_DWORD, reinterpret_cast<const BYTE*>(&types), sizeof types);
  }
  ::RegCloseKey(key);
  return static_cast<DWORD>(rc);
}

// The data directory holds the identity keys: full control for SYSTEM, Administrators and
// the service's own SID; nothing inherited from %ProgramData% (where Users may read).
DWORD secure_directory(const std::wstring& dir) {
  // The service SID computed, not looked up: Wine cannot map NT SERVICE\ names.
  const std::wstring sddl =
      L"D:P(A;OICI;FA;;;SY)(A;OICI;FA;;;BA)(A;OICI;FA;;;" + widen(service_sid(k_service_name)) + L")";

  PSECURITY_DESCRIPTOR descriptor = nullptr;
  if (!::ConvertStringSecurityDescriptorToSecurityDescriptorW(sddl.c_str(), SDDL_REVISION_1, &descriptor, nullptr)) {
    return ::GetLastError();
  }
  DWORD result = ERROR_SUCCESS;
  SECURITY_ATTRIBUTES attributes{sizeof attributes, descriptor, FALSE};
  if (!::CreateDirectoryW(dir.c_str(), &attributes)) {
    result = ::GetLastError();
    if (result == ERROR_ALREADY_EXISTS) {  // an older install: put the ACL right
      BOOL present = FALSE, defaulted = FALSE;
      PACL dacl = nullptr;
      ::GetSecurityDescriptorDacl(descriptor, &present, &dacl, &defaulted);
      result = ::SetNamedSecurityInfoW(const_cast<wchar_t*>(dir.c_str()), SE_FILE_OBJECT,
                                       DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, nullptr,
                                       nullptr, dacl, nullptr);
    }
  }
  ::LocalFree(descriptor);
  return result;
}

// A config file must exist for `service run --config`: the default shipped beside the
// exe (the MSI installs it), or, for an exe run from elsewhere, one that holds only
// comments, i.e. the built-in defaults. An existing one is the operator's: left alone.
void ensure_config_file(const std::wstring& path, const std::wstring& exe) {
  const std::wstring shipped = exe.substr(0, exe.find_last_of(L'\\') + 1) + L"zoneproxy.toml";
  if (::CopyFileW(shipped.c_str(), path.c_str(), /*bFailIfExists=*/TRUE)) return;
  HANDLE file = ::CreateFileW(path.c_str(), GENERIC_WRITE, 0, nullptr, CREATE_NEW, FILE_ATTRIBUTE_NORMAL, nullptr);
  if (file == INVALID_HANDLE_VALUE) return;
  static constexpr char k_text[] =
      "# zoneproxy local configuration: keys bind, provisioning_port, workers, log_level, drain_timeout_s.\r\n"
      "# Every key is optional; see the README's Windows section.\r\n";
  DWORD written = 0;
  ::WriteFile(file, k_text, sizeof k_text - 1, &written, nullptr);
  ::CloseHandle(file);
}

// A new service, or the existing one brought up to date (install is idempotent).
SC_HANDLE create_or_update(SC_HANDLE scm, const std::wstring& command_line, bool& created, DWORD& error) {
  const std::wstring name = widen(k_service_name);
  // Tcpip: the listeners need the stack; the bind address itself may still come later.
  static constexpr wchar_t k_dependencies[] = L"Tcpip\0";
  SC_HANDLE service = ::CreateServiceW(scm, name.c_str(), k_display_name, SERVICE_ALL_ACCESS, SERVICE_WIN32_OWN_PROCESS,
                                       SERVICE_AUTO_START, SERVICE_ERROR_NORMAL, command_line.c_str(), nullptr, nullptr,
                                       k_dependencies, k_account, nullptr);
  created = service != nullptr;
  if (created) return service;
  error = ::GetLastError();
  if (error != ERROR_SERVICE_EXISTS) return nullptr;
  service = ::OpenServiceW(scm, name.c_str(), SERVICE_ALL_ACCESS);
  if (service == nullptr) {
    error = ::GetLastError();
    return nullptr;
  }
  if (!::ChangeServiceConfigW(service, SERVICE_WIN32_OWN_PROCESS, SERVICE_AUTO_START, SERVICE_ERROR_NORMAL,
                              command_line.c_str(), nullptr, nullptr, k_dependencies, k_account, nullptr,
                              k_display_name)) {
    error = ::GetLastError();
    ::CloseServiceHandle(service);
    return nullptr;
  }
  return service;
}

bool wait_until_stopped(SC_HANDLE service) {
  const ULONGLONG deadline = ::GetTickCount64() + k_uninstall_stop_timeout_ms;
  SERVICE_STATUS status{};
  while (::QueryServiceStatus(service, &status) && status.dwCurrentState != SERVICE_STOPPED) {
    if (::GetTickCount64() >= deadline) return false;
    ::Sleep(250);
  }
  return true;
}

}  // namespace

int install_service(const service_options& options) {
  const std::wstring exe = this_executable();
  const std::wstring command_line = widen(service_command_line(narrow(exe), options));

  sc_handle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT | SC_MANAGER_CREATE_SERVICE));
  if (!scm) return fail("service install: OpenSCManager (run as Administrator)", ::GetLastError());
  DWORD error = ERROR_SUCCESS;
  bool created = false;
  sc_handle service(create_or_update(scm.get(), command_line, created, error));
  if (!service) return fail("service install: create", error);
  // All or nothing: a service this call created is deleted again if the rest fails, so a
  // failed MSI install (which then rolls back its files) leaves no service behind.
  auto undo_and_fail = [&](const char* what, DWORD e) {
    if (created) ::DeleteService(service.get());
    return fail(what, e);
  };
  if (step_error e = configure_service(service.get()); e.code != ERROR_SUCCESS) {
    const std::string what = std::string("service install: ") + e.what;
    return undo_and_fail(what.c_str(), e.code);
  }
  if (DWORD e = register_event_source(exe); e != ERROR_SUCCESS)
    return undo_and_fail("service install: event source", e);
  const std::wstring data_dir = widen(service_data_dir(program_data_dir()));
  if (DWORD e = secure_directory(data_dir); e != ERROR_SUCCESS)
    return undo_and_fail("service install: data directory", e);
  // The state directory gets the same ACL explicitly rather than by inheritance: it holds
  // the keys, and `service run` refuses it if anyone else may read it (also where
  // inheritance does not happen: Wine, or a --state-dir outside %ProgramData%).
  if (DWORD e = secure_directory(widen(options.state_dir)); e != ERROR_SUCCESS)
    return undo_and_fail("service install: state directory", e);
  ensure_config_file(widen(options.config_file), exe);
  // Not fatal: a server whose firewall is another product's has the Windows Firewall
  // service off, and the service runs without these rules there. Said, with the commands.
  if (const std::string problem = add_firewall_rules(narrow(exe)); !problem.empty()) {
    std::fprintf(stderr,
                 "zoneproxy: warning: service install: firewall rules not added: %s\n"
                 "  to add them by hand, as Administrator:\n%s",
                 problem.c_str(), firewall_netsh_commands(narrow(exe)).c_str());
  } else {
    std::printf("added inbound firewall rules for TCP 17486, 17487 and 17488 (group \"zoneproxy\")\n");
  }

  std::printf("installed service %s (automatic start, not started)\n  %s\nstart it with: sc start %s\n",
              std::string(k_service_name).c_str(), narrow(command_line).c_str(), std::string(k_service_name).c_str());
  return 0;
}

int uninstall_service() {
  sc_handle scm(::OpenSCManagerW(nullptr, nullptr, SC_MANAGER_CONNECT));
  if (!scm) return fail("service uninstall: OpenSCManager (run as Administrator)", ::GetLastError());
  sc_handle service(
      ::OpenServiceW(scm.get(), widen(k_service_name).c_str(), SERVICE_STOP | SERVICE_QUERY_STATUS | DELETE));
  if (!service) {
    const DWORD error = ::GetLastError();
    if (error != ERROR_SERVICE_DOES_NOT_EXIST) return fail("service uninstall: OpenService", error);
    std::printf("service %s is not installed\n", std::string(k_service_name).c_str());
  } else {
    SERVICE_STATUS status{};
    if (::ControlService(service.get(), SERVICE_CONTROL_STOP, &status) ||
        ::GetLastError() != ERROR_SERVICE_NOT_ACTIVE) {
      if (!wait_until_stopped(service.get())) {
        std::fprintf(stderr, "zoneproxy: warning: service did not stop within 60 s; deleting it anyway\n");
      }
    }
    if (!::DeleteService(service.get())) return fail("service uninstall: DeleteService", ::GetLastError());
    std::printf("removed service %s; %s is kept (delete it to forget the proxy's identity)\n",
                std::string(k_service_name).c_str(), service_data_dir(program_data_dir()).c_str());
  }
  ::RegDeleteKeyW(HKEY_LOCAL_MACHINE, k_event_source_key);
  if (const std::string problem = remove_firewall_rules(); !problem.empty()) {
    std::fprintf(
        stderr,
        "zoneproxy: warning: service uninstall: firewall rules not removed: %s\n"
        "  remove them by hand: netsh advfirewall firewall delete rule name=all program=<path of zoneproxy.exe>\n",
        problem.c_str());
  }
  return 0;
}

}  // namespace zp::windows
