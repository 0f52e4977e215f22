// Figures the documents quote about the tree itself stay true: RELIABILITY.md's count of
// hostile tests is the number of tests in tests/hostile/.

#include "tests/support/process.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <regex>
#include <sstream>

namespace zp::test {
namespace {

TEST(DocsFigures, ReliabilityCountsTheHostileTestsThereAre) {
  std::size_t tests = 0;
  for (const auto& f : std::filesystem::directory_iterator(source_dir() / "tests" / "hostile")) {
    if (f.path().filename().string().find("_test.cpp") == std::string::npos) continue;
    std::istringstream in(read_text(f.path()));
    for (std::string line; std::getline(in, line);) {
      if (line.rfind("TEST(", 0) == 0 || line.rfind("TEST_F(", 0) == 0) ++tests;
    }
  }
  const std::string reliability = read_text(source_dir() / "RELIABILITY.md");
  std::smatch m;
  ASSERT_TRUE(std::regex_search(reliability, m, std::regex(R"(\| ([0-9]+) attacker scenarios)")));
  EXPECT_EQ(std::stoul(m[1].str()), tests) << "update the hostile tier's row of RELIABILITY.md";
}

}  // namespace
}  // namespace zp::test
