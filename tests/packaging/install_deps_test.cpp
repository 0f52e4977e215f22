// packaging/install-deps.sh installs by purpose: building and running the proxy (what
// `bash packaging/dev.sh run` does on a DMZ host) pulls no test tool and no package that
// starts a service of its own; the test set has every tool the tests use.

#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

namespace zp::test {
namespace {

std::set<std::string> packages_for(const std::string& purpose) {
  auto r = run({"/bin/bash", (source_dir() / "packaging" / "install-deps.sh").string(), "--list", purpose});
  EXPECT_EQ(r.status, 0) << r.output;
  std::set<std::string> out;
  std::istringstream in(r.output);
  for (std::string p; in >> p;) out.insert(p);
  return out;
}

const std::set<std::string> k_test_tools = {"clang",   "clang-tidy", "clang-format", "g++-mingw-w64-x86-64-posix",
                                            "wine64",  "wixl",       "lintian",      "prometheus",
                                            "haproxy", "msitools"};

TEST(InstallDeps, RunAndBuildInstallNoTestToolAndNoService) {
  for (const char* purpose : {"run", "build"}) {
    const auto p = packages_for(purpose);
    EXPECT_FALSE(p.empty());
    for (const auto& tool : k_test_tools) EXPECT_EQ(p.count(tool), 0u) << purpose << " installs " << tool;
    // What the build does need.
    for (const char* lib : {"libssl-dev", "libasio-dev", "libabsl-dev", "prometheus-cpp-dev", "cmake", "ninja-build"}) {
      EXPECT_EQ(p.count(lib), 1u) << purpose << " lacks " << lib;
    }
  }
}

TEST(InstallDeps, TestInstallsTheBuildSetAndEveryTestTool) {
  const auto test = packages_for("test"), build = packages_for("build");
  for (const auto& p : build) EXPECT_EQ(test.count(p), 1u) << p;
  for (const auto& tool : k_test_tools) EXPECT_EQ(test.count(tool), 1u) << tool;
}

TEST(InstallDeps, AnUnknownPurposeIsAUsageError) {
  auto r = run({"/bin/bash", (source_dir() / "packaging" / "install-deps.sh").string(), "--list", "everything"});
  EXPECT_EQ(r.status, 2) << r.output;
}

}  // namespace
}  // namespace zp::test
