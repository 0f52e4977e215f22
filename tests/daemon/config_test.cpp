// The daemon's command line and TOML configuration: flags override the file, and every
// unknown key or bad value stops the start with one line naming key and value.

#include "tests/support/daemon.hpp"

#include <gtest/gtest.h>

#include <signal.h>

#include <algorithm>
#include <fstream>

namespace zp::test {
namespace {

namespace fs = std::filesystem;

// The daemon under test (ZP_TEST_DAEMON: zoneproxy.exe under Wine too) with `args`.
std::vector<std::string> zoneproxy(const std::vector<std::string>& args) {
  auto argv = daemon_command();
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

// Runs `zoneproxy run` to completion with a config file holding `toml` (if not empty)
// and extra flags; expects it to fail at start.
run_result run_expecting_failure(const std::string& toml, std::vector<std::string> flags = {}) {
  temp_dir dir;
  std::vector<std::string> argv =
      zoneproxy({"run", "--state-dir", (dir.path() / "state").string(), "--provisioning-port", "0"});
  if (!toml.empty()) {
    std::ofstream(dir.path() / "zoneproxy.toml") << toml;
    argv.push_back("--config");
    argv.push_back((dir.path() / "zoneproxy.toml").string());
  }
  argv.insert(argv.end(), flags.begin(), flags.end());
  auto r = run(argv, std::chrono::seconds(20));
  EXPECT_NE(r.status, 0) << "started with bad configuration: " << r.output;
  EXPECT_NE(r.status, -1) << "still running after 20 s";
  EXPECT_FALSE(fs::exists(dir.path() / "state")) << "a bad config must fail before touching the state dir";
  return r;
}

void expect_one_line_with(const run_result& r, const std::string& needle) {
  EXPECT_NE(r.output.find(needle), std::string::npos) << r.output;
  EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
}

TEST(Config, UnknownKeyIsNamed) {
  expect_one_line_with(run_expecting_failure("colour = \"blue\"\n"), "unknown key \"colour\"");
}

TEST(Config, BadValuesAreNamedWithKeyAndValue) {
  expect_one_line_with(run_expecting_failure("workers = 0\n"), "workers: invalid value \"0\"");
  expect_one_line_with(run_expecting_failure("workers = \"two\"\n"), "workers: invalid value \"two\"");
  expect_one_line_with(run_expecting_failure("bind = \"not-an-ip\"\n"), "bind: invalid value \"not-an-ip\"");
  expect_one_line_with(run_expecting_failure("provisioning_port = 70000\n"),
                       "provisioning_port: invalid value \"70000\"");
  expect_one_line_with(run_expecting_failure("log_level = \"loud\"\n"), "log_level: invalid value \"loud\"");
  expect_one_line_with(run_expecting_failure("record_layer = \"off\"\n"),
                       "record_layer: invalid value \"off\" (expected true or false)");
}

// Found by local_config_fuzz: a value holding a newline broke the one-line error.
TEST(Config, AValueWithANewlineStillGivesOneLine) {
  expect_one_line_with(run_expecting_failure("bind = \"10.0.0.1\\nx\"\n"), "bind: invalid value \"10.0.0.1\\x0ax\"");
  expect_one_line_with(run_expecting_failure("log_level = \"lo\\nud\"\n"), "log_level: invalid value \"lo\\x0aud\"");
}

TEST(Config, SyntaxErrorNamesFileAndLine) {
  auto r = run_expecting_failure("workers = 2\nbind = [\n");
  expect_one_line_with(r, "zoneproxy.toml:");
}

TEST(Config, BadFlagValuesAreNamed) {
  expect_one_line_with(run_expecting_failure("", {"--workers", "0"}), "workers: invalid value \"0\"");
  expect_one_line_with(run_expecting_failure("", {"--log-level", "loud"}), "log_level: invalid value \"loud\"");
  expect_one_line_with(run_expecting_failure("", {"--bind", "localhost:1"}), "bind: invalid value \"localhost:1\"");
}

TEST(Config, FileValuesApplyAndFlagsOverrideThem) {
  temp_dir dir;
  // The file asks for 3 workers and error-only logs; the flag brings info logs back,
  // so the (info) listening line shows both that the flag won and that the file applied.
  std::ofstream(dir.path() / "zoneproxy.toml")
      << "workers = 3\nlog_level = \"error\"\nbind = \"127.0.0.1\"\nprovisioning_port = 0\n"
      << "state_dir = \"" << (dir.path() / "state").string() << "\"\n";
  process p(zoneproxy({"run", "--config", (dir.path() / "zoneproxy.toml").string(), "--log-level", "info"}),
            dir.path() / "out.log");
  ASSERT_TRUE(p.wait_for_output("event=listening")) << p.output();
  EXPECT_NE(p.output().find("workers=3"), std::string::npos) << p.output();
  EXPECT_NE(p.output().find("addr=127.0.0.1:"), std::string::npos) << p.output();
  EXPECT_TRUE(fs::exists(dir.path() / "state" / "bootstrap-token")) << "state_dir from the file";
  p.signal(daemon_is_windows() ? SIGINT : SIGTERM);
  EXPECT_EQ(p.wait(), 0);
}

TEST(Config, PerPortBindsAreCheckedLikeBind) {
  expect_one_line_with(run_expecting_failure("module_server_bind = \"inner\"\n"),
                       "module_server_bind: invalid value \"inner\"");
  expect_one_line_with(run_expecting_failure("provisioning_bind = 17488\n"), "provisioning_bind: invalid value");
}

// `zoneproxy check-config`, like `nginx -t`: 0 and one line when the file is valid, 2 and
// the one-line error when not; nothing is started and no state is touched.
TEST(Config, CheckConfigExitsZeroOrTwo) {
  temp_dir dir;
  const auto file = dir.path() / "zoneproxy.toml";
  std::ofstream(file) << "workers = 2\nendpoint_bind = \"10.1.2.3\"\nmetrics_listen = \"127.0.0.1:9488\"\n";
  auto good = run(zoneproxy({"check-config", "--config", file.string()}));
  EXPECT_EQ(good.status, 0) << good.output;
  EXPECT_NE(good.output.find("ok"), std::string::npos) << good.output;
  std::ofstream(file) << "metrics_listen = \"8.8.8.8:9488\"\n";
  auto public_metrics = run(zoneproxy({"check-config", "--config", file.string()}));
  EXPECT_EQ(public_metrics.status, 2);
  expect_one_line_with(public_metrics, "zoneproxy: error: metrics_listen: invalid value \"8.8.8.8:9488\"");
  auto missing = run(zoneproxy({"check-config", "--config", (dir.path() / "absent.toml").string()}));
  EXPECT_EQ(missing.status, 2);
  expect_one_line_with(missing, "absent.toml");
}

// Usage errors exit 2 with the same one-line shape as every other start error (CLI11's
// own exit codes, 105 and 109, meant nothing to a service manager).
TEST(Config, UsageErrorsExitTwoWithOneLine) {
  auto unknown = run(zoneproxy({"run", "--no-such-flag"}));
  EXPECT_EQ(unknown.status, 2) << unknown.output;
  EXPECT_EQ(unknown.output.rfind("zoneproxy: error: ", 0), 0u) << unknown.output;
  auto missing_file = run(zoneproxy({"run", "--config", "/nonexistent/zoneproxy.toml", "--state-dir", "/nonexistent"}));
  EXPECT_EQ(missing_file.status, 2) << missing_file.output;
  expect_one_line_with(missing_file, "zoneproxy: error: config /nonexistent/zoneproxy.toml");
  auto no_command = run(zoneproxy({}));
  EXPECT_EQ(no_command.status, 2) << no_command.output;
}

TEST(Config, VersionAndHelpWork) {
  auto v = run(zoneproxy({"--version"}));
  EXPECT_EQ(v.status, 0);
  EXPECT_NE(v.output.find(ZONEPROXY_VERSION), std::string::npos) << v.output;
  auto h = run(zoneproxy({"run", "--help"}));
  EXPECT_EQ(h.status, 0);
  for (const char* flag : {"--state-dir", "--config", "--bind", "--provisioning-port", "--workers", "--log-level"}) {
    EXPECT_NE(h.output.find(flag), std::string::npos) << flag;
  }
}

}  // namespace
}  // namespace zp::test
