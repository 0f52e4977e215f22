// The Windows service layer's pure logic, on Linux: the `service` words and defaults,
// and the command line registered with the SCM, read back with Windows' own rules.

#include "daemon/windows/service_cli.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace zp::windows {
namespace {

constexpr const char* k_program_data = "C:\\ProgramData";

// How CommandLineToArgvW and the MSVC runtime split a command line (documented in
// "Parsing C++ command-line arguments"): 2n backslashes + quote -> n backslashes and a
// quote that toggles quoting; 2n+1 -> n backslashes and a literal quote; "" inside
// quotes -> a literal quote; other backslashes are literal.
std::vector<std::string> split_like_windows(const std::string& line) {
  std::vector<std::string> args;
  std::size_t i = 0;
  const std::size_t n = line.size();
  while (true) {
    while (i < n && (line[i] == ' ' || line[i] == '\t')) ++i;
    if (i >= n) return args;
    std::string arg;
    bool quoted = false;
    while (i < n && (quoted || (line[i] != ' ' && line[i] != '\t'))) {
      if (line[i] == '\\') {
        std::size_t backslashes = 0;
        while (i < n && line[i] == '\\') ++backslashes, ++i;
        if (i < n && line[i] == '"') {
          arg.append(backslashes / 2, '\\');
          if (backslashes % 2 == 1) {
            arg += '"';
            ++i;
          }
        } else {
          arg.append(backslashes, '\\');
        }
      } else if (line[i] == '"') {
        if (quoted && i + 1 < n && line[i + 1] == '"') {
          arg += '"';
          i += 2;
        } else {
          quoted = !quoted;
          ++i;
        }
      } else {
        arg += line[i++];
      }
    }
    args.push_back(arg);
  }
}

TEST(windows_service_cli, RunDefaultsLiveUnderProgramData) {
  auto r = parse_service_args({"run"}, k_program_data);
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->verb, service_verb::run);
  EXPECT_EQ(r.options->config_file, "C:\\ProgramData\\zoneproxy\\zoneproxy.toml");
  EXPECT_EQ(r.options->state_dir, "C:\\ProgramData\\zoneproxy\\state");
  EXPECT_EQ(service_data_dir("C:\\ProgramData\\"), "C:\\ProgramData\\zoneproxy");
}

TEST(windows_service_cli, InstallFlagsOverrideTheDefaults) {
  auto r = parse_service_args({"install", "--state-dir", "D:\\zp state", "--config", "D:\\zp.toml"}, k_program_data);
  ASSERT_TRUE(r.options) << r.error;
  EXPECT_EQ(r.options->verb, service_verb::install);
  EXPECT_EQ(r.options->state_dir, "D:\\zp state");
  EXPECT_EQ(r.options->config_file, "D:\\zp.toml");
}

TEST(windows_service_cli, NoWordsOrHelpMeansUsage) {
  for (const std::vector<std::string>& args : {std::vector<std::string>{}, {"help"}, {"--help"}}) {
    auto r = parse_service_args(args, k_program_data);
    ASSERT_TRUE(r.options);
    EXPECT_EQ(r.options->verb, service_verb::help);
  }
  EXPECT_NE(service_usage().find("service install"), std::string::npos);
}

TEST(windows_service_cli, UnknownCommandIsRejectedByName) {
  auto r = parse_service_args({"start"}, k_program_data);
  EXPECT_FALSE(r.options);
  EXPECT_EQ(r.error, "service: unknown command \"start\" (expected install, uninstall or run)");
}

TEST(windows_service_cli, UnknownOrMisplacedOptionIsRejectedByName) {
  auto r = parse_service_args({"run", "--bind", "0.0.0.0"}, k_program_data);
  EXPECT_FALSE(r.options);
  EXPECT_EQ(r.error, "service run: unknown option \"--bind\"");
  r = parse_service_args({"uninstall", "--config", "x"}, k_program_data);
  EXPECT_FALSE(r.options);
  EXPECT_EQ(r.error, "service uninstall: unknown option \"--config\"");
}

TEST(windows_service_cli, OptionWithoutPathIsRejected) {
  auto r = parse_service_args({"install", "--state-dir"}, k_program_data);
  EXPECT_FALSE(r.options);
  EXPECT_EQ(r.error, "service install: --state-dir needs a path");
  r = parse_service_args({"install", "--config", ""}, k_program_data);
  EXPECT_FALSE(r.options);
}

TEST(windows_service_cli, QuotedArgumentsComeBackUnchanged) {
  const std::vector<std::string> samples = {"plain",
                                            "C:\\Program Files\\zoneproxy",
                                            "trailing backslash\\",
                                            "C:\\dir\\",
                                            "say \"hi\"",
                                            "a\\\"b",
                                            "a\\\\\"b c",
                                            "",
                                            "tab\there",
                                            "\\\\server\\share\\x y"};
  for (const auto& s : samples) {
    const auto back = split_like_windows(quote_windows_arg(s));
    ASSERT_EQ(back.size(), 1u) << quote_windows_arg(s);
    EXPECT_EQ(back[0], s) << quote_windows_arg(s);
  }
  EXPECT_EQ(quote_windows_arg("plain"), "plain");  // nothing to quote
}

TEST(windows_service_cli, ServiceCommandLineQuotesTheExecutableAndReadsBack) {
  auto r = parse_service_args({"install", "--state-dir", "D:\\zone proxy\\state\\"}, k_program_data);
  ASSERT_TRUE(r.options) << r.error;
  const std::string exe = "C:\\Program Files\\zoneproxy\\zoneproxy.exe";
  const std::string line = service_command_line(exe, *r.options);
  // Unquoted, "C:\Program Files\..." would let C:\Program.exe run as the service.
  EXPECT_EQ(line.rfind("\"" + exe + "\" service run ", 0), 0u) << line;
  const std::vector<std::string> expected = {exe,
                                             "service",
                                             "run",
                                             "--config",
                                             "C:\\ProgramData\\zoneproxy\\zoneproxy.toml",
                                             "--state-dir",
                                             "D:\\zone proxy\\state\\"};
  EXPECT_EQ(split_like_windows(line), expected) << line;
  // What the SCM starts parses back to the same options.
  auto again = parse_service_args(std::vector<std::string>(expected.begin() + 2, expected.end()), k_program_data);
  ASSERT_TRUE(again.options) << again.error;
  EXPECT_EQ(again.options->state_dir, r.options->state_dir);
  EXPECT_EQ(again.options->config_file, r.options->config_file);
}

// The ACL of %ProgramData%\zoneproxy names the service by this SID: it must be the one
// Windows gives the service. TrustedInstaller's is well known (every Windows file ACL).
TEST(windows_service_cli, TheServiceSidIsTheOneWindowsDerives) {
  EXPECT_EQ(service_sid("TrustedInstaller"), "S-1-5-80-956008885-3418522649-1831038044-1853292631-2271478464");
  EXPECT_EQ(service_sid("trustedinstaller"), service_sid("TrustedInstaller"));  // names are case-blind
  EXPECT_NE(service_sid("zoneproxy"), service_sid("TrustedInstaller"));
}

}  // namespace
}  // namespace zp::windows
