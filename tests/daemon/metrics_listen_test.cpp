// --metrics-listen: plain HTTP, GET /metrics and nothing else, only on loopback or private
// addresses unless the config says metrics_listen_public = true.

#include "tests/support/daemon.hpp"
#include "tests/support/tls_client.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

namespace zp::test {
namespace {

// One plain HTTP request; the whole answer (the server closes after it).
std::string http(std::uint16_t port, const std::string& request) {
  const int fd = raw_connect(port);
  if (fd < 0) return {};
  ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
  std::string out;
  char buf[8192];
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) out.append(buf, static_cast<std::size_t>(n));
  ::close(fd);
  return out;
}

std::string status_line(const std::string& reply) { return reply.substr(0, reply.find("\r\n")); }

TEST(MetricsListen, ServesMetricsInPlainHttpAndNothingElse) {
  daemon d({"--metrics-listen", "127.0.0.1:0"});
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  ASSERT_TRUE(d.proc().wait_for_output("listener=metrics"));
  const std::uint16_t port = listening_port(d.proc().output(), "metrics");
  ASSERT_NE(port, 0);
  const std::string metrics = http(port, "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  EXPECT_EQ(status_line(metrics), "HTTP/1.1 200 OK");
  EXPECT_NE(metrics.find("text/plain; version=0.0.4"), std::string::npos);
  EXPECT_NE(metrics.find("zoneproxy_build_info{"), std::string::npos);
  EXPECT_NE(metrics.find("process_open_fds"), std::string::npos);
  EXPECT_EQ(status_line(http(port, "GET /v1/status HTTP/1.1\r\nHost: x\r\n\r\n")).substr(9, 3), "404");
  EXPECT_EQ(status_line(http(port, "GET / HTTP/1.1\r\nHost: x\r\n\r\n")).substr(9, 3), "404");
  EXPECT_EQ(status_line(http(port, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")).substr(9, 3),
            "405");
  EXPECT_EQ(status_line(http(port, "garbage\r\n\r\n")).substr(9, 3), "400");
  EXPECT_EQ(d.stop(), 0);
}

TEST(MetricsListen, APublicAddressIsRefusedAtStartUnlessTheConfigAllowsIt) {
  daemon refused({"--metrics-listen", "192.0.2.10:9100"});
  auto status = refused.proc().wait();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(*status, 2);
  const std::string out = refused.proc().output();
  EXPECT_NE(out.find("zoneproxy: error: metrics_listen:"), std::string::npos) << out;
  EXPECT_NE(out.find("metrics_listen_public"), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;

  temp_dir dir;
  const auto config = dir.path() / "zoneproxy.toml";
  std::ofstream(config) << "metrics_listen = \"0.0.0.0:0\"\nmetrics_listen_public = true\n";
  daemon allowed({"--config", config.string()});
  ASSERT_TRUE(allowed.wait_ready()) << allowed.proc().output();
  ASSERT_TRUE(allowed.proc().wait_for_output("listener=metrics addr=0.0.0.0:"));
  EXPECT_EQ(allowed.stop(), 0);
}

}  // namespace
}  // namespace zp::test
