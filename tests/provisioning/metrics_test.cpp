// GET /metrics as Prometheus sees it: promtool accepts the exposition, and a real
// Prometheus server (Debian's `prometheus` package) scrapes the proxy over mutual TLS
// and reports the target up through its own HTTP API.

#include "tests/support/control_client.hpp"
#include "tests/support/data_plane_fixture.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <thread>

namespace zp::test {
namespace {

using json = nlohmann::json;

// A plain-HTTP GET on loopback (Prometheus's own API); empty on failure.
std::string http_get(std::uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
    std::string req = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
    if (::send(fd, req.data(), req.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(req.size())) {
      char buf[8192];
      ssize_t n;
      while ((n = ::recv(fd, buf, sizeof buf, 0)) > 0) out.append(buf, static_cast<std::size_t>(n));
    }
  }
  ::close(fd);
  const auto body = out.find("\r\n\r\n");
  return body == std::string::npos ? std::string() : out.substr(body + 4);
}

class Metrics : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<daemon>();
    ASSERT_TRUE(d_->wait_ready()) << d_->proc().output();
    ASSERT_TRUE(provision(*d_));
  }
  void TearDown() override { EXPECT_EQ(d_->stop(), 0); }
  std::unique_ptr<daemon> d_;
  temp_dir dir_;
};

TEST_F(Metrics, PromtoolAcceptsTheExposition) {
  auto ms = module_server_ctx();
  auto r = api_call(d_->provisioning_port(), ms.get(), "GET", "/metrics");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(r->headers["content-type"].rfind("text/plain; version=0.0.4", 0), 0u) << r->headers["content-type"];
  const auto file = dir_.path() / "metrics.txt";
  std::ofstream(file) << r->body;
  auto check = run({"/bin/bash", "-c", "promtool check metrics < '" + file.string() + "'"});
  EXPECT_EQ(check.status, 0) << check.output;
}

// The descriptor limit is exported where there is one (Linux); on Windows the series is
// left out, never 0, so an open/max ratio cannot be +Inf.
TEST_F(Metrics, TheDescriptorLimitIsExportedWhereThereIsOne) {
  auto ms = module_server_ctx();
  auto r = api_call(d_->provisioning_port(), ms.get(), "GET", "/metrics");
  ASSERT_TRUE(r);
  const auto at = r->body.find("\nprocess_max_fds ");
  if (daemon_is_windows()) {
    EXPECT_EQ(at, std::string::npos) << "Windows has no descriptor limit: the series must be absent";
    return;
  }
  ASSERT_NE(at, std::string::npos) << r->body.substr(0, 2000);
  EXPECT_GT(std::stod(r->body.substr(at + std::string_view("\nprocess_max_fds ").size())), 0);
}

TEST_F(Metrics, RealPrometheusScrapesOverMutualTls) {
  const std::uint16_t web = free_port();
  const auto config = dir_.path() / "prometheus.yml";
  std::ofstream(config) << "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                        << "scrape_configs:\n  - job_name: zoneproxy\n    scheme: https\n"
                        << "    tls_config:\n"
                        << "      ca_file: " << (test_pki() / "zone-ca.crt").string() << "\n"
                        << "      cert_file: " << (test_pki() / "ms-client.crt").string() << "\n"
                        << "      key_file: " << (test_pki() / "ms-client.key").string() << "\n"
                        << "    static_configs:\n      - targets: ['127.0.0.1:" << d_->provisioning_port() << "']\n";
  process prom({"/usr/bin/prometheus", "--config.file=" + config.string(),
                "--storage.tsdb.path=" + (dir_.path() / "tsdb").string(),
                "--web.listen-address=127.0.0.1:" + std::to_string(web), "--log.level=warn"},
               dir_.path() / "prometheus.log");
  std::string health, last_error;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (std::chrono::steady_clock::now() < deadline && health != "up") {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));  // polling Prometheus's view
    auto targets = json::parse(http_get(web, "/api/v1/targets"), nullptr, false);
    if (targets.is_discarded() || !targets.contains("data")) continue;
    for (const auto& t : targets["data"]["activeTargets"]) {
      health = t.value("health", "");
      last_error = t.value("lastError", "");
    }
  }
  EXPECT_EQ(health, "up") << "last scrape error: " << last_error << "\n" << prom.output();
  auto series = json::parse(http_get(web, "/api/v1/query?query=zoneproxy_build_info"), nullptr, false);
  if (health == "up") {
    EXPECT_FALSE(series.is_discarded() || series["data"]["result"].empty()) << series.dump();
  }
  prom.signal(SIGTERM);
  prom.wait(std::chrono::seconds(20));
}

}  // namespace
}  // namespace zp::test
