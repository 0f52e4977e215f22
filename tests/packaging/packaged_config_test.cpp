// The default /etc/zoneproxy/zoneproxy.toml the .deb installs (packaging/deb/zoneproxy.toml)
// starts the real daemon, as shipped and with every documented key switched on.

#include "tests/support/daemon.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace zp::test {
namespace {

std::filesystem::path packaged_config() { return source_dir() / "packaging/deb/zoneproxy.toml"; }

// The same file with each commented-out `# key = value` line made live.
std::string uncommented(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::ostringstream out;
  std::string line;
  int keys = 0;
  while (std::getline(in, line)) {
    const auto eq = line.find(" = ");
    // "# key = value": one word between the comment mark and " = ".
    if (line.rfind("# ", 0) == 0 && eq != std::string::npos && line.substr(2, eq - 2).find(' ') == std::string::npos) {
      line = line.substr(2);
      ++keys;
    }
    out << line << '\n';
  }
  EXPECT_GE(keys, 5) << "documented keys found in " << file;
  return out.str();
}

void expect_starts_and_stops(const std::filesystem::path& config) {
  // --bind and --provisioning-port (from the helper) override the file: loopback, free port.
  daemon d({"--config", config.string()});
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  EXPECT_EQ(d.stop(), 0) << d.proc().output();
}

TEST(packaged_config, ShippedFileStartsTheDaemon) { expect_starts_and_stops(packaged_config()); }

TEST(packaged_config, EveryDocumentedKeyIsAcceptedWithItsDocumentedValue) {
  temp_dir dir;
  const auto file = dir.path() / "zoneproxy.toml";
  std::ofstream(file) << uncommented(packaged_config());
  expect_starts_and_stops(file);
}

}  // namespace
}  // namespace zp::test
