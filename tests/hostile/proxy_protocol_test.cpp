// PROTOCOL.md 3.7 with a real HAProxy in front (`send-proxy-v2`): the proxy sees the
// client's address for its per-source limits and /v1/sessions; a listed balancer that
// sends no header is closed unanswered; and a host that is not listed cannot claim an
// address by sending a header of its own.

#include "tests/hostile/hostile.hpp"

#include <unistd.h>

#include <fstream>
#include <thread>

namespace zp::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

// HAProxy in TCP mode on 127.0.0.1:<port>, forwarding to 17486 with a PROXY v2 header.
class haproxy_in_front {
 public:
  haproxy_in_front(std::uint16_t endpoint_port) : port_(free_port()) {
    const auto cfg = dir_.path() / "haproxy.cfg";
    std::ofstream(cfg) << "global\n  maxconn 200\ndefaults\n  mode tcp\n  timeout connect 5s\n"
                       << "  timeout client 60s\n  timeout server 60s\nfrontend fe\n  bind 127.0.0.1:" << port_
                       << "\n  default_backend be\nbackend be\n  server zp 127.0.0.1:" << endpoint_port
                       << " send-proxy-v2\n";
    proc_ = std::make_unique<process>(std::vector<std::string>{"/usr/sbin/haproxy", "-db", "-f", cfg.string()},
                                      dir_.path() / "haproxy.log");
    for (int i = 0; i < 250; ++i) {
      if (int fd = raw_connect(port_); fd >= 0) {
        ::close(fd);
        ready_ = true;
        break;
      }
      std::this_thread::sleep_for(20ms);
    }
  }
  bool ready() const { return ready_; }
  std::uint16_t port() const { return port_; }
  std::string log() const { return proc_->output(); }

 private:
  temp_dir dir_;
  std::uint16_t port_;
  std::unique_ptr<process> proc_;
  bool ready_ = false;
};

// An endpoint half through the balancer, from `source`: TLS, hello; null on failure.
std::unique_ptr<tls_client> endpoint_via(std::uint16_t port, SSL_CTX* ctx, const std::string& source,
                                         const std::string& id) {
  auto c = std::make_unique<tls_client>(port, ctx, 10s, source.c_str());
  if (!c->handshake() || !c->write_all(hello_for(id))) return nullptr;
  return c;
}

class ProxyProtocol : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(p_.ok());
    auto r = p_.call("PUT", "/v1/settings", R"({"proxy_protocol_sources": ["127.0.0.1/32"]})");
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    ASSERT_EQ(json::parse(r->body)["settings"]["proxy_protocol_sources"], json::array({"127.0.0.1/32"})) << r->body;
  }
  provisioned_daemon p_;
  std::mt19937_64 rng_{37};
};

TEST_F(ProxyProtocol, ThroughHaproxyTheProxySeesTheClientsAddress) {
  haproxy_in_front lb(p_.endpoint_port());
  ASSERT_TRUE(lb.ready()) << lb.log();
  const std::string sid = random_session_id(rng_);
  auto e = endpoint_via(lb.port(), p_.endpoint_ctx(), host(9), sid);
  ASSERT_TRUE(e) << "through HAProxy: " << lb.log();
  ASSERT_TRUE(data_plane_fixture::eventually([&] {
    auto s = p_.json_of("GET", "/v1/sessions");
    return s.is_object() && !s["sessions"].empty();
  }));
  auto sessions = p_.json_of("GET", "/v1/sessions");
  EXPECT_EQ(sessions["sessions"][0]["endpoint_address"], host(9)) << sessions.dump();
  auto m = open_half(p_.module_server_port(), p_.operator_ctx(), sid);
  ASSERT_TRUE(m && read_101(*e) && read_101(*m));
  const auto x = exchange(*e, *m, "through the balancer", "and back");
  EXPECT_TRUE(x.ok) << x.error;
  EXPECT_EQ(x.b_received_sha256, sha256_hex("through the balancer"));
  EXPECT_EQ(x.a_received_sha256, sha256_hex("and back"));
}

TEST_F(ProxyProtocol, PerSourceLimitsCountTheClientNotTheBalancer) {
  auto r = p_.call("PUT", "/v1/settings", R"({"max_admitting_per_source": 2})");
  ASSERT_TRUE(r && r->status == 200);
  haproxy_in_front lb(p_.endpoint_port());
  ASSERT_TRUE(lb.ready()) << lb.log();
  // Two silent connections from one client fill its share; a third is closed.
  std::vector<unique_fd> held;
  for (int i = 0; i < 3; ++i) held.emplace_back(raw_connect(lb.port(), host(20)));
  EXPECT_TRUE(data_plane_fixture::eventually([&] {
    return p_.metric(R"(zoneproxy_connections_rejected_total{listener="endpoint",reason="admitting_per_source"})") >= 1;
  })) << "the third connection of 127.0.0.20 was not refused";
  // Another client behind the same balancer is not affected: it pairs.
  const std::string sid = random_session_id(rng_);
  auto e = endpoint_via(lb.port(), p_.endpoint_ctx(), host(21), sid);
  ASSERT_TRUE(e);
  auto m = open_half(p_.module_server_port(), p_.operator_ctx(), sid);
  EXPECT_TRUE(m && read_101(*e) && read_101(*m));
}

TEST_F(ProxyProtocol, AListedBalancerWithoutAHeaderIsClosedUnanswered) {
  // 127.0.0.1 is listed: a TLS client from there (no header) is closed without a byte.
  tls_client direct(p_.endpoint_port(), p_.endpoint_ctx(), 5s, host(1).c_str());
  EXPECT_FALSE(direct.handshake()) << "a listed source must begin with a PROXY v2 header";
  EXPECT_GE(p_.metric(R"(zoneproxy_connections_rejected_total{listener="endpoint",reason="proxy_header"})"), 1);
  // And one that sends nothing is closed at hello_timeout, not kept.
  auto r = p_.call("PUT", "/v1/settings", R"({"hello_timeout_s": 1})");
  ASSERT_TRUE(r && r->status == 200);
  unique_fd silent{raw_connect(p_.endpoint_port(), host(1))};
  EXPECT_TRUE(closed_within(silent.get(), 3s));
}

TEST_F(ProxyProtocol, AHostThatIsNotListedCannotClaimAnAddress) {
  // 127.0.0.5 sends a PROXY v2 header naming 203.0.113.7, then TLS: the header is not
  // parsed (PROTOCOL.md 3.7), so the handshake fails on its bytes and nothing is spoofed.
  unique_fd fd{raw_connect(p_.endpoint_port(), host(5))};
  const unsigned char header[] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11,
                                  0x00, 0x0C, 203,  0,    113,  7,    127,  0,    0,    1,    0xC7, 0x38, 0x44, 0x4E};
  ASSERT_EQ(::write(fd.get(), header, sizeof header), static_cast<ssize_t>(sizeof header));
  EXPECT_TRUE(closed_within(fd.get(), 5s)) << "a TLS handshake cannot start with a PROXY header";
  EXPECT_LT(p_.metric(R"(zoneproxy_connections_rejected_total{listener="endpoint",reason="proxy_header"})"), 1)
      << "an unlisted source's bytes were parsed as a PROXY header";
  auto sessions = p_.json_of("GET", "/v1/sessions");
  EXPECT_EQ(sessions.dump().find("203.0.113.7"), std::string::npos) << sessions.dump();
}

}  // namespace
}  // namespace zp::test
