#pragma once
// `zoneproxy service install|uninstall|run [--config FILE] [--state-dir DIR]`: the words,
// the defaults under %ProgramData%, and the command line the Service Control Manager
// starts. Pure string logic with no Win32 calls, so it builds and is unit-tested on Linux
// too (tests/daemon/windows/service_cli_test.cpp).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace zp::windows {

/// The service's name in the SCM, the Event Log source and the %ProgramData% folder.
inline constexpr std::string_view k_service_name = "zoneproxy";

enum class service_verb { install, uninstall, run, help };

/// What `zoneproxy service ...` was asked to do. Paths are UTF-8 Windows paths.
struct service_options {
  service_verb verb = service_verb::help;
  /// TOML config; default %ProgramData%\zoneproxy\zoneproxy.toml (absent = built-in defaults).
  std::string config_file;
  /// State directory; default %ProgramData%\zoneproxy\state.
  std::string state_dir;
};

/// Either options or a one-line error naming the bad word.
struct parse_result {
  std::optional<service_options> options;
  std::string error;
};

/// Parses the words after "service". `program_data` is the %ProgramData% folder
/// (C:\ProgramData), used for the defaults.
parse_result parse_service_args(const std::vector<std::string>& args, std::string_view program_data);

/// %ProgramData%\zoneproxy: the folder install creates and locks down.
std::string service_data_dir(std::string_view program_data);

/// One argument quoted for a Windows command line so that CommandLineToArgvW and the
/// C runtime give it back unchanged (backslashes before a quote are doubled).
std::string quote_windows_arg(std::string_view arg);

/// The command line registered with the SCM: "<exe>" service run --config ... --state-dir ...
std::string service_command_line(std::string_view exe_path, const service_options& options);

/// The SID of the service `name` (NT SERVICE\<name>) as "S-1-5-80-a-b-c-d-e": S-1-5-80
/// followed by the SHA-1 of the upper-cased name in UTF-16LE, read as five little-endian
/// 32-bit numbers. Windows derives it the same way (`sc showsid`), so it names the
/// service in an ACL before the account can be looked up, and where it cannot (Wine).
/// `name` is ASCII.
std::string service_sid(std::string_view name);

/// The usage text of `zoneproxy service`.
std::string service_usage();

}  // namespace zp::windows
