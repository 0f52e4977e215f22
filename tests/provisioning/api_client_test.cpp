// zoneproxyctl's client against a real proxy: the requests of one client after its first
// resume the TLS session (the proxy's ticket, PROTOCOL.md 2) instead of a full
// handshake, the pin holds on a resumed handshake, and a change of trust ends the
// session: the next request does a full handshake, and succeeds.

#include "provisioning/ctl/api_client.hpp"
#include "common/pem.hpp"
#include "common/socket_handle.hpp"
#include "common/tls_policy.hpp"
#include "tests/support/control_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace zp::test {
namespace {

using ctl::api_client;
using ctl::client_options;

class ApiClient : public ::testing::Test {
 protected:
  void SetUp() override {
    ignore_broken_pipe_signals();  // as zoneproxyctl's main does
    ASSERT_TRUE(d_.wait_ready());
  }

  // The Module Server's client: its certificate, and the proxy verified by `pins` or,
  // without pins, by the zone CA.
  absl::StatusOr<api_client> client(std::vector<std::string> pins = {}) {
    client_options o;
    o.port = d_.provisioning_port();
    auto id = make_tls_identity(read_text(test_pki() / "ms-client.key"), read_text(test_pki() / "ms-client.crt"));
    if (!id.ok()) return id.status();
    o.client_cert = std::move(*id);
    if (pins.empty()) {
      auto cas = parse_certificates_pem(read_text(test_pki() / "zone-ca.crt"));
      if (!cas.ok()) return cas.status();
      o.trusted = std::move(*cas);
    }
    o.pins = std::move(pins);
    return api_client::create(std::move(o));
  }

  daemon d_;
};

TEST_F(ApiClient, TheSecondAndLaterRequestsOfAClientResume) {
  ASSERT_TRUE(provision(d_));
  auto c = client();
  ASSERT_TRUE(c.ok()) << c.status();
  for (int i = 0; i < 3; ++i) {
    auto r = c->call("GET", "/v1/status");
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.status();
    EXPECT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(c->resumed(), static_cast<std::size_t>(i)) << "request " << i;
  }
}

TEST_F(ApiClient, APinnedClientResumesAndThePinHoldsOnTheResumedHandshake) {
  // Before provisioning: the proxy's identity certificate, verified by pin alone.
  auto c = client({identity_pin(d_.state_dir())});
  ASSERT_TRUE(c.ok()) << c.status();
  for (int i = 0; i < 2; ++i) {
    auto r = c->call("GET", "/v1/identity");
    ASSERT_TRUE(r.ok()) << "request " << i << ": " << r.status();
    EXPECT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(c->resumed(), 1u);
  auto wrong = client({std::string(64, 'a')});
  ASSERT_TRUE(wrong.ok()) << wrong.status();
  auto refused = wrong->call("GET", "/v1/identity");
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("does not match the pinned fingerprint"), std::string::npos)
      << refused.status();
}

TEST_F(ApiClient, AChangeOfTrustEndsTheSessionAndTheNextRequestHandshakesAfresh) {
  ASSERT_TRUE(provision(d_));
  auto c = client();
  ASSERT_TRUE(c.ok()) << c.status();
  ASSERT_TRUE(c->call("GET", "/v1/status").ok());
  // The Module Server CA stays (so ms-client is still trusted) and a second one joins.
  const std::string cas = read_text(test_pki() / "ms-ca.crt") + read_text(test_pki() / "endpoint-ca.crt");
  auto put = c->call("PUT", "/v1/trust/cas", nlohmann::json{{"module_server_ca", cas}}.dump());
  ASSERT_TRUE(put.ok()) << put.status();
  ASSERT_EQ(put->status, 200) << put->body;
  ASSERT_EQ(c->resumed(), 1u);
  auto after = c->call("GET", "/v1/status");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_EQ(after->status, 200) << after->body;
  EXPECT_EQ(c->resumed(), 1u) << "a session from before the change of trust resumed";
  // The full handshake's session is the one offered next.
  ASSERT_TRUE(c->call("GET", "/v1/status").ok());
  EXPECT_EQ(c->resumed(), 2u);
}

}  // namespace
}  // namespace zp::test
