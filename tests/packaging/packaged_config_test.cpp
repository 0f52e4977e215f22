// The default configuration files the packages install start the real daemon, as shipped
// and with every documented key switched on: /etc/zoneproxy/zoneproxy.toml from the .deb
// (packaging/deb/) and %ProgramData%\zoneproxy\zoneproxy.toml from the MSI
// (packaging/windows/; the keys are the same on both systems).

#include "tests/support/daemon.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

namespace zp::test {
namespace {

const char* const k_packaged_configs[] = {"packaging/deb/zoneproxy.toml", "packaging/windows/zoneproxy.toml"};

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

TEST(packaged_config, ShippedFileStartsTheDaemon) {
  for (const char* config : k_packaged_configs) {
    SCOPED_TRACE(config);
    expect_starts_and_stops(source_dir() / config);
  }
}

TEST(packaged_config, EveryDocumentedKeyIsAcceptedWithItsDocumentedValue) {
  for (const char* config : k_packaged_configs) {
    SCOPED_TRACE(config);
    temp_dir dir;
    const auto file = dir.path() / "zoneproxy.toml";
    std::ofstream(file) << uncommented(source_dir() / config);
    expect_starts_and_stops(file);
  }
}

}  // namespace
}  // namespace zp::test
