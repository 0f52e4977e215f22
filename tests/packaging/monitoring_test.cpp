// packaging/monitoring against the real thing: the alert rules parse and pass their unit
// tests (promtool), and every query of the Grafana dashboard and every alert parses and
// names only metrics a provisioned proxy exports after real traffic.

#include "common/tls_policy.hpp"
#include "tests/support/control_client.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>

namespace zp::test {
namespace {

const std::filesystem::path k_dir = source_dir() / "packaging" / "monitoring";

TEST(Monitoring, AlertRulesParseAndPassTheirUnitTests) {
  auto check = run({"/usr/bin/promtool", "check", "rules", (k_dir / "zoneproxy.rules.yml").string()});
  EXPECT_EQ(check.status, 0) << check.output;
  auto tests = run({"/bin/sh", "-c", "cd '" + k_dir.string() + "' && promtool test rules zoneproxy.rules.test.yml"});
  EXPECT_EQ(tests.status, 0) << tests.output;
}

// An alert an operator cannot act on is noise: each has its runbook section in the README,
// its runbook_url points at it, and each has a promtool unit test.
TEST(Monitoring, EveryAlertHasARunbookSectionAndAUnitTest) {
  const std::string rules = read_text(k_dir / "zoneproxy.rules.yml");
  const std::string tests = read_text(k_dir / "zoneproxy.rules.test.yml");
  const std::string readme = read_text(source_dir() / "README.md");
  std::size_t alerts = 0;
  for (auto at = rules.find("- alert: "); at != std::string::npos; at = rules.find("- alert: ", at + 1)) {
    const std::string name = rules.substr(at + 9, rules.find('\n', at) - at - 9);
    ++alerts;
    EXPECT_NE(readme.find("\n#### " + name + "\n"), std::string::npos) << name << ": no runbook section";
    std::string lower = name;
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    EXPECT_NE(rules.find("README.md#" + lower + "\""), std::string::npos) << name << ": no runbook_url";
    EXPECT_NE(tests.find("alertname: " + name + "\n"), std::string::npos) << name << ": no unit test";
  }
  EXPECT_GE(alerts, 15u);
}

// The panels an operator looks for first (their queries are checked against a real scrape
// below, with every other panel's).
TEST(Monitoring, TheDashboardHasThePanelsAnOperatorLooksFor) {
  const std::string dashboard = read_text(k_dir / "zoneproxy-dashboard.json");
  for (const char* title :
       {"New sessions per second", "Sessions ended by reason", "CPU", "Early data held against max_early_data_bytes",
        "Waiting halves against max_pending", "Certificate expiry (days left)"}) {
    EXPECT_NE(dashboard.find(std::string("\"title\": \"") + title + "\""), std::string::npos) << title;
  }
}

TEST(Monitoring, DashboardAndAlertsNameOnlyMetricsTheProxyExports) {
  daemon d;
  ASSERT_TRUE(d.wait_ready());
  auto ports = provision(d);
  ASSERT_TRUE(ports);
  // Traffic, so histograms and labelled counters have samples.
  std::mt19937_64 rng{11};
  const std::string sid = random_session_id(rng);
  auto ep = make_client_ctx(nullptr, {});
  auto ms = module_server_ctx();
  auto e = open_half(ports->first, ep->get(), sid);
  auto m = open_half(ports->second, ms.get(), sid);
  ASSERT_TRUE(e && m && read_101(*e) && read_101(*m));
  ASSERT_TRUE(exchange(*e, *m, "ping", "pong").ok);
  auto scrape = api_call(d.provisioning_port(), ms.get(), "GET", "/metrics");
  ASSERT_TRUE(scrape && scrape->status == 200);
  std::set<std::string> names;
  std::istringstream lines(scrape->body);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    names.insert(line.substr(0, line.find_first_of("{ ")));
  }
  temp_dir dir;
  const auto names_file = dir.path() / "names.txt";
  std::ofstream out(names_file);
  for (const auto& n : names) out << n << "\n";
  out.close();
  auto check =
      run({"/usr/bin/python3", (k_dir / "check-dashboard.py").string(), (k_dir / "zoneproxy-dashboard.json").string(),
           (k_dir / "zoneproxy.rules.yml").string(), names_file.string()});
  EXPECT_EQ(check.status, 0) << check.output;
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace zp::test
