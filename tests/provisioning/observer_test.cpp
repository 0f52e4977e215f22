// PROTOCOL.md 4.5: a certificate chained to observer_ca reads (identity, status,
// diagnostics, metrics, sessions, trust) and gets 403 forbidden everywhere else, changing
// nothing; it is never accepted on 17487. zoneproxyctl works with it for reading.

#include "tests/support/control_client.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace zp::test {
namespace {

using json = nlohmann::json;

class Observer : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.wait_ready());
    auto ports = provision(d_, {"--observer-ca", (test_pki() / "observer-ca.crt").string()});
    ASSERT_TRUE(ports.has_value());
    ports_ = *ports;
  }
  void TearDown() override { EXPECT_EQ(d_.stop(), 0); }
  std::optional<http_reply> as_observer(const std::string& method, const std::string& path,
                                        const std::string& body = {}) {
    return api_call(d_.provisioning_port(), observer_.get(), method, path, body);
  }

  daemon d_;
  std::pair<std::uint16_t, std::uint16_t> ports_;
  ssl_ctx_ptr observer_ = module_server_ctx("observer-client");
};

TEST_F(Observer, ReadsEveryReadOnlyRoute) {
  for (const char* path : {"/v1/identity", "/v1/status", "/v1/diagnostics", "/metrics", "/v1/sessions", "/v1/trust"}) {
    auto r = as_observer("GET", path);
    ASSERT_TRUE(r.has_value()) << path << ": the observer was refused";
    EXPECT_EQ(r->status, 200) << path << ": " << r->body;
  }
  // The observer CA expires too, and monitoring should see it coming.
  auto metrics = as_observer("GET", "/metrics");
  ASSERT_TRUE(metrics.has_value());
  EXPECT_NE(metrics->body.find("use=\"observer_ca\""), std::string::npos) << metrics->body.substr(0, 4000);
  EXPECT_EQ(
      ctl(d_.provisioning_port(),
          {"--cert", (test_pki() / "observer-client.crt").string(), "--key",
           (test_pki() / "observer-client.key").string(), "--ca", (test_pki() / "zone-ca.crt").string(), "status"},
          /*with_cert=*/false)
          .status,
      0);
}

TEST_F(Observer, GetsForbiddenOnEveryRouteThatChangesSomethingAndNothingChanges) {
  auto settings = [&] {
    return json::parse(api_call(d_.provisioning_port(), module_server_ctx().get(), "GET", "/v1/diagnostics")
                           ->body)["config"]["settings"];
  };
  const json before = settings();
  const std::pair<const char*, const char*> changes[] = {{"PUT", "/v1/settings"},
                                                         {"PUT", "/v1/certificates"},
                                                         {"POST", "/v1/trust/revoke"},
                                                         {"POST", "/v1/deprovision"},
                                                         {"POST", "/v1/provision"},
                                                         {"POST", "/v1/csr"},
                                                         {"DELETE", "/v1/sessions/0123abcd"}};
  for (const auto& [method, path] : changes) {
    auto r = as_observer(
        method, path,
        R"({"pair_timeout_s": 5, "fingerprint": ")" + pki_cert_sha256("ms-client") + R"(", "common_name": "x"})");
    ASSERT_TRUE(r.has_value()) << method << " " << path;
    EXPECT_EQ(r->status, 403) << method << " " << path << ": " << r->body;
    EXPECT_EQ(json::parse(r->body)["error"]["code"], "forbidden");
  }
  auto status = as_observer("GET", "/v1/status");
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(json::parse(status->body)["state"], "provisioned");
  auto trust = json::parse(as_observer("GET", "/v1/trust")->body);
  EXPECT_TRUE(trust["revoked"].empty()) << "an observer revoked a certificate";
  EXPECT_EQ(ctl(d_.provisioning_port(),
                {"--cert", (test_pki() / "observer-client.crt").string(), "--key",
                 (test_pki() / "observer-client.key").string(), "--ca", (test_pki() / "zone-ca.crt").string(),
                 "deprovision", "--yes"},
                /*with_cert=*/false)
                .status,
            1);
  EXPECT_EQ(settings(), before) << "an observer changed the settings";
}

TEST_F(Observer, IsNeverAcceptedOnTheModuleServerPort) {
  tls_client c(ports_.second, observer_.get());
  const bool handshake = c.handshake();
  std::string rest;
  const bool served = handshake && c.write_all(hello_for(std::string(32, 'a'))) && c.read_some().has_value();
  EXPECT_FALSE(served) << "an observer certificate got through on 17487";
}

}  // namespace
}  // namespace zp::test
