// PROTOCOL.md 4.2 (1.1) as an attacker tries it on 17488: anonymous connections cannot
// starve the operator, get no answer of any kind, are bounded per source, and a
// certificate that stops being trusted loses its open connections.

#include "tests/hostile/hostile.hpp"

#include <unistd.h>

namespace zp::test {
namespace {

using namespace std::chrono_literals;

std::size_t count_lines(const std::string& log, const std::string& needle) {
  std::size_t n = 0;
  for (std::size_t at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
  return n;
}

// Defect 1: 256 silent certificate-less connections used to fill the process-wide cap,
// after which the operator was closed right after accept and nobody could revoke.
TEST(OperatorPort, ThreeHundredAnonymousConnectionsDoNotKeepTheOperatorOut) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok()) << p.d().proc().output();
  std::vector<unique_fd> silent;                       // TCP only: they sit in the handshake
  std::vector<std::unique_ptr<tls_client>> anonymous;  // handshake done, no certificate
  for (int h = 0; h < 60; ++h) {
    for (int i = 0; i < 5; ++i) silent.emplace_back(raw_connect(p.api_port(), host(10 + h)));
    auto c = std::make_unique<tls_client>(p.api_port(), p.endpoint_ctx(), 5s, host(100 + h).c_str());
    c->handshake();
    anonymous.push_back(std::move(c));
  }
  const auto start = std::chrono::steady_clock::now();
  auto status = p.call("GET", "/v1/status");
  const auto took = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(status.has_value()) << "the operator was locked out";
  EXPECT_EQ(status->status, 200);
  EXPECT_LT(took, 1s) << "the operator waited " << std::chrono::duration<double>(took).count() << " s";
  // The certificate-less ones were closed right after their handshakes.
  for (auto& c : anonymous) EXPECT_TRUE(closed_within(c->fd(), 2s));
  EXPECT_GE(p.metric(R"(zoneproxy_api_connections_refused_total{reason="anonymous_closed"})"), 60);
}

// Defect 2: no 400, 404 or 413 for a client without a certificate: nothing at all.
TEST(OperatorPort, AnAnonymousClientGetsNoAnswerOfAnyKind) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  const std::vector<std::string> requests = {
      "GET /no/such/path HTTP/1.1\r\nHost: x\r\n\r\n", "this is not http\r\n\r\n",
      "PUT /v1/settings HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + std::string(70000, 'x')};
  for (const std::string& request : requests) {
    tls_client c(p.api_port(), p.endpoint_ctx(), 3s);
    ASSERT_TRUE(c.handshake()) << c.error();
    c.write_all(request);  // may fail: the proxy closes without reading
    std::string got;
    c.read_to_end(got);
    EXPECT_EQ(got.find("HTTP/1.1"), std::string::npos) << "an anonymous client got an answer: " << got;
  }
}

TEST(OperatorPort, AnonymousConnectionsAreLimitedPerSourceAndTheOperatorStillGetsIn) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  std::vector<unique_fd> held;
  for (int i = 0; i < 8; ++i) held.emplace_back(raw_connect(p.api_port(), host(7)));
  for (auto& f : held) EXPECT_FALSE(closed_within(f.get(), 100ms)) << "within the limit of 8";
  unique_fd ninth{raw_connect(p.api_port(), host(7))};
  EXPECT_TRUE(closed_within(ninth.get(), 2s)) << "the 9th from one source is closed at accept";
  EXPECT_GE(p.metric(R"(zoneproxy_api_connections_refused_total{reason="anonymous_per_source"})"), 1);
  auto status = p.call("GET", "/v1/status");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->status, 200);
}

// An operator behind the same address as a flood (a NAT, a jump host shared with a
// compromised machine): once its certificate was seen from there, its next connections
// wait for their handshake in the trusted room, not in that source's 8 anonymous places.
TEST(OperatorPort, AnOperatorsAddressKeepsItsWayInWhileOthersFloodFromIt) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  ASSERT_TRUE(p.call("GET", "/v1/status").has_value()) << "the first call vouches for 127.0.0.1";
  std::vector<unique_fd> held;
  for (int i = 0; i < 8; ++i) held.emplace_back(raw_connect(p.api_port(), host(1)));
  for (auto& f : held) EXPECT_FALSE(closed_within(f.get(), 100ms)) << "within the limit of 8";
  unique_fd ninth{raw_connect(p.api_port(), host(1))};
  EXPECT_FALSE(closed_within(ninth.get(), 300ms)) << "a vouched source's 9th waits in the trusted room";
  for (int i = 0; i < 3; ++i) {
    auto status = p.call("GET", "/v1/status");
    ASSERT_TRUE(status.has_value()) << "call " << i;
    EXPECT_EQ(status->status, 200);
  }
  // The room is bounded per source as well: the vouched flood gets no more than 8 more.
  for (int i = 0; i < 12; ++i) held.emplace_back(raw_connect(p.api_port(), host(1)));
  std::size_t open = 0;
  for (auto& f : held) open += closed_within(f.get(), 200ms) ? 0 : 1;
  EXPECT_LE(open, 16u + 1u);
}

// Defect 12: a flood of refused connections costs a line per interval, not a line each.
TEST(OperatorPort, RefusedConnectionsAreLoggedOncePerIntervalAndCountedEach) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  std::vector<unique_fd> held;
  for (int i = 0; i < 60; ++i) held.emplace_back(raw_connect(p.api_port(), host(8)));
  ASSERT_TRUE(data_plane_fixture::eventually(
      [&] { return p.metric(R"(zoneproxy_api_connections_refused_total{reason="anonymous_per_source"})") >= 52; }));
  EXPECT_LE(count_lines(p.d().proc().output(), "event=api_connection_refused"), 2u) << p.d().proc().output();
}

// Defect 6: a keep-alive connection opened with the old CA's certificate stayed open
// through deprovision and re-provision, then had full rights.
TEST(OperatorPort, KeepAliveConnectionsAreClosedWhenTheirCertificateStopsBeingTrusted) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  auto ms2 = module_server_ctx("ms-client2");
  tls_client idle(p.api_port(), ms2.get());
  ASSERT_TRUE(idle.handshake()) << idle.error();
  auto first = idle.request("GET", "/v1/status");
  ASSERT_TRUE(first && first->status == 200);
  // Revoking it closes its idle keep-alive connection (the revoker's own stays useful).
  ASSERT_EQ(ctl(p.api_port(), {"revoke", pki_cert_sha256("ms-client2"), "--yes"}).status, 0);
  EXPECT_TRUE(closed_within(idle.fd(), 2s)) << "a revoked certificate's idle connection stayed open";

  tls_client kept(p.api_port(), p.operator_ctx());
  ASSERT_TRUE(kept.handshake());
  ASSERT_TRUE(kept.request("GET", "/v1/status"));
  ASSERT_EQ(ctl(p.api_port(), {"deprovision", "--yes"}).status, 0);
  EXPECT_TRUE(closed_within(kept.fd(), 2s)) << "a connection outlived the deprovisioning of its CA";
}

}  // namespace
}  // namespace zp::test
