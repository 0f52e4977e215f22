#include "daemon/windows/service_cli.hpp"

#include <openssl/evp.h>

#include <array>
#include <cstdint>

namespace zp::windows {

std::string service_data_dir(std::string_view program_data) {
  std::string dir(program_data);
  if (!dir.empty() && dir.back() != '\\') dir += '\\';
  dir += k_service_name;
  return dir;
}

parse_result parse_service_args(const std::vector<std::string>& args, std::string_view program_data) {
  parse_result result;
  service_options options;
  if (args.empty() || args[0] == "help" || args[0] == "--help" || args[0] == "-h") {
    result.options = options;
    return result;
  }
  if (args[0] == "install") {
    options.verb = service_verb::install;
  } else if (args[0] == "uninstall") {
    options.verb = service_verb::uninstall;
  } else if (args[0] == "run") {
    options.verb = service_verb::run;
  } else {
    result.error = "service: unknown command \"" + args[0] + "\" (expected install, uninstall or run)";
    return result;
  }
  const std::string data = service_data_dir(program_data);
  options.config_file = data + "\\zoneproxy.toml";
  options.state_dir = data + "\\state";
  for (std::size_t i = 1; i < args.size(); ++i) {
    const std::string& flag = args[i];
    std::string* target = flag == "--config"      ? &options.config_file
                          : flag == "--state-dir" ? &options.state_dir
                                                  : nullptr;
    if (target == nullptr || options.verb == service_verb::uninstall) {
      result.error = "service " + args[0] + ": unknown option \"" + flag + "\"";
      return result;
    }
    if (i + 1 >= args.size() || args[i + 1].empty()) {
      result.error = "service " + args[0] + ": " + flag + " needs a path";
      return result;
    }
    *target = args[++i];
  }
  result.options = options;
  return result;
}

// The rules of CommandLineToArgvW / the MSVC runtime: inside quotes, 2n backslashes
// before a quote are n backslashes and the quote ends the argument; 2n+1 are n and a
// literal quote; backslashes elsewhere are literal.
std::string quote_windows_arg(std::string_view arg) {
  if (!arg.empty() && arg.find_first_of(" \t\n\v\"") == std::string_view::npos) return std::string(arg);
  std::string out = "\"";
  std::size_t backslashes = 0;
  for (char c : arg) {
    if (c == '\\') {
      ++backslashes;
      continue;
    }
    if (c == '"') {
      out.append(backslashes * 2 + 1, '\\');
    } else {
      out.append(backslashes, '\\');
    }
    backslashes = 0;
    out += c;
  }
  out.append(backslashes * 2, '\\');  // before the closing quote
  out += '"';
  return out;
}

std::string service_command_line(std::string_view exe_path, const service_options& options) {
  // The executable is always quoted: an unquoted "C:\Program Files\..." is the classic
  // unquoted-service-path hole (C:\Program.exe would run instead).
  // (Appends, not operator+ chains: GCC 12 at -O3 warns falsely (-Wrestrict) on those.)
  std::string line = "\"";
  line.append(exe_path);
  line.append("\" service run --config ");
  line.append(quote_windows_arg(options.config_file));
  line.append(" --state-dir ");
  line.append(quote_windows_arg(options.state_dir));
  return line;
}

std::string service_sid(std::string_view name) {
  std::string utf16;
  for (char c : name) {
    utf16 += (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
    utf16 += '\0';
  }
  std::array<unsigned char, 20> digest{};
  unsigned int size = 0;
  EVP_Digest(utf16.data(), utf16.size(), digest.data(), &size, EVP_sha1(), nullptr);
  std::string sid = "S-1-5-80";
  for (std::size_t i = 0; i < digest.size(); i += 4) {
    const std::uint32_t part = static_cast<std::uint32_t>(digest[i]) | static_cast<std::uint32_t>(digest[i + 1]) << 8 |
                               static_cast<std::uint32_t>(digest[i + 2]) << 16 |
                               static_cast<std::uint32_t>(digest[i + 3]) << 24;
    sid += '-';
    sid += std::to_string(part);
  }
  return sid;
}

std::string service_usage() {
  return "usage: zoneproxy service install [--config FILE] [--state-dir DIR]\n"
         "       zoneproxy service uninstall\n"
         "       zoneproxy service run [--config FILE] [--state-dir DIR]   (started by the SCM)\n"
         "\n"
         "install   registers the automatic-start service \"zoneproxy\" (account NT SERVICE\\zoneproxy,\n"
         "          restart on failure), the Event Log source, and %ProgramData%\\zoneproxy\n"
         "          (SYSTEM, Administrators and the service only). It does not start it:\n"
         "          `sc start zoneproxy` or reboot.\n"
         "uninstall stops the service (drain) and removes it; %ProgramData%\\zoneproxy is kept.\n"
         "Defaults: --config %ProgramData%\\zoneproxy\\zoneproxy.toml,\n"
         "          --state-dir %ProgramData%\\zoneproxy\\state\n";
}

}  // namespace zp::windows
