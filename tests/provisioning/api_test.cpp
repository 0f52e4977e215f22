// PROTOCOL.md 4 against a real zoneproxy process: every route, its auth rule and its
// errors; provisioning through zoneproxyctl; durability across restarts and crashes.

#include "common/fingerprint.hpp"
#include "tests/support/control_client.hpp"
#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/rendezvous.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace zp::test {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

json body_of(const std::optional<http_reply>& r) {
  if (!r) return nullptr;
  return json::parse(r->body, nullptr, false);
}

std::string error_code(const std::optional<http_reply>& r) {
  auto j = body_of(r);
  return j.is_object() && j.contains("error") ? j["error"].value("code", "") : "";
}

class Api : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<daemon>(std::vector<std::string>{"--drain-timeout", "2"});
    ASSERT_TRUE(d_->wait_ready()) << d_->proc().output();
    token_ = read_text(d_->state_dir() / "bootstrap-token");
    anon_ = anonymous_ctx();
    ms_ = module_server_ctx();
  }
  void TearDown() override {
    if (d_->proc().running()) {
      EXPECT_EQ(d_->stop(), 0) << d_->proc().output();
    }
  }
  std::uint16_t port() const { return d_->provisioning_port(); }
  std::optional<http_reply> with_token(const std::string& method, const std::string& path, const json& body = nullptr) {
    return api_call(port(), anon_.get(), method, path, body.is_null() ? std::string() : body.dump(), token_);
  }
  std::optional<http_reply> with_cert(const std::string& method, const std::string& path, const json& body = nullptr) {
    return api_call(port(), ms_.get(), method, path, body.is_null() ? std::string() : body.dump());
  }
  std::string state() {
    auto r = api_call(port(), anon_.get(), "GET", "/v1/identity");
    if (!r) r = with_cert("GET", "/v1/identity");
    return r ? body_of(r).value("state", "") : "unreachable";
  }
  // A provision body with freshly signed certificates, to be spoiled by each case.
  json good_body() {
    auto csr = with_token("POST", "/v1/csr", json{{"common_name", "test"}, {"ip_addresses", {"127.0.0.1"}}});
    EXPECT_TRUE(csr && csr->status == 200);
    auto csrs = body_of(csr);
    json certs;
    for (const char* t : {"rsa", "ecdsa"}) {
      std::string csr_file = (d_->state_dir().parent_path() / (std::string(t) + ".csr")).string();
      std::ofstream(csr_file) << csrs[t].get<std::string>();
      std::string crt_file = csr_file + ".crt";
      auto r = run({"/bin/bash", (source_dir() / "certs/sign-csr.sh").string(), (test_pki() / "zone-ca.crt").string(),
                    (test_pki() / "zone-ca.key").string(), csr_file, crt_file});
      EXPECT_EQ(r.status, 0) << r.output;
      certs[t] = read_text(crt_file);
    }
    return {{"module_server_ca", pki_file("ms-ca.crt")},
            {"certificates", certs},
            {"endpoint_port", free_port()},
            {"module_server_port", free_port()}};
  }

  std::unique_ptr<daemon> d_;
  std::string token_;
  ssl_ctx_ptr anon_, ms_;
};

TEST_F(Api, IdentityNeedsNoTokenButEverythingElseDoes) {
  auto id = api_call(port(), anon_.get(), "GET", "/v1/identity");
  ASSERT_TRUE(id);
  EXPECT_EQ(id->status, 200);
  auto no_token = api_call(port(), anon_.get(), "POST", "/v1/csr", R"({"common_name":"x"})");
  ASSERT_TRUE(no_token);
  EXPECT_EQ(no_token->status, 401);
  EXPECT_EQ(error_code(no_token), "unauthorized");
  auto wrong = api_call(port(), anon_.get(), "POST", "/v1/csr", R"({"common_name":"x"})", std::string(64, 'a'));
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 401);
  auto status = api_call(port(), anon_.get(), "GET", "/v1/status");
  ASSERT_TRUE(status);
  EXPECT_EQ(status->status, 401);
}

TEST_F(Api, CsrReturnsRequestsForBothDataPlaneKeys) {
  auto r = with_token("POST", "/v1/csr",
                      json{{"common_name", "zone1"}, {"dns_names", {"zone1.example"}}, {"ip_addresses", {"10.0.0.1"}}});
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  auto j = body_of(r);
  for (const char* t : {"rsa", "ecdsa"}) {
    ASSERT_TRUE(j[t].is_string());
    EXPECT_EQ(j[t].get<std::string>().rfind("-----BEGIN CERTIFICATE REQUEST-----", 0), 0u);
  }
  auto bad = with_token("POST", "/v1/csr", json{{"common_name", "x"}, {"ip_addresses", {"not-an-ip"}}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(body_of(bad)["error"]["message"].get<std::string>().find("ip_addresses[0]"), std::string::npos);
}

TEST_F(Api, EachInvalidProvisionIsRefusedNamingTheFieldAndChangesNothing) {
  const json good = good_body();
  struct spoil {
    std::string field;
    std::function<void(json&)> apply;
  };
  const std::vector<spoil> cases = {
      {"module_server_ca", [](json& b) { b.erase("module_server_ca"); }},
      {"module_server_ca", [](json& b) { b["module_server_ca"] = "not pem"; }},
      {"module_server_ca", [](json& b) { b["module_server_ca"] = pki_file("ms-client.crt"); }},  // not a CA
      {"certificates", [](json& b) { b.erase("certificates"); }},
      {"certificates", [](json& b) { b["certificates"] = json::object(); }},
      {"certificates.rsa", [](json& b) { b["certificates"]["rsa"] = b["certificates"]["ecdsa"]; }},  // wrong key
      {"certificates.ecdsa", [](json& b) { b["certificates"]["ecdsa"] = pki_file("ms-client.crt"); }},
      {"endpoint_port", [](json& b) { b["endpoint_port"] = 0; }},
      {"endpoint_port", [](json& b) { b["endpoint_port"] = 70000; }},
      {"endpoint_port", [](json& b) { b["endpoint_port"] = "17486"; }},
      {"module_server_port", [](json& b) { b["module_server_port"] = b["endpoint_port"]; }},
      {"settings.pair_timeout_s",
       [](json& b) {
         b["settings"] = {{"pair_timeout_s", -1}};
       }},
      {"settings.max_pending",
       [](json& b) {
         b["settings"] = {{"max_pending", 0}};
       }},
      {"settings.bogus",
       [](json& b) {
         b["settings"] = {{"bogus", 1}};
       }},
      {"colour", [](json& b) { b["colour"] = "blue"; }},
  };
  for (const auto& c : cases) {
    json body = good;
    c.apply(body);
    auto r = with_token("POST", "/v1/provision", body);
    ASSERT_TRUE(r) << c.field;
    EXPECT_EQ(r->status, 400) << c.field << ": " << r->body;
    EXPECT_EQ(error_code(r), "bad_request") << c.field;
    EXPECT_NE(r->body.find(c.field), std::string::npos) << "message should name " << c.field << ": " << r->body;
  }
  // The provisioning port itself is not allowed.
  json clash = good;
  clash["endpoint_port"] = port();
  auto r = with_token("POST", "/v1/provision", clash);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 400) << r->body;
  EXPECT_EQ(state(), "unprovisioned");
  EXPECT_TRUE(fs::exists(d_->state_dir() / "bootstrap-token"));
  EXPECT_FALSE(fs::exists(d_->state_dir() / "provisioned.json"));
}

TEST_F(Api, BodyOver1MiBIs413) {
  std::string big = "{\"common_name\":\"" + std::string(1024 * 1024 + 10, 'a') + "\"}";
  tls_client c(port(), anon_.get());
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.write_all("POST /v1/csr HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token_ +
                          "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(big.size()) +
                          "\r\n\r\n"));
  c.write_all(big);  // may fail once the proxy has answered and stopped listening
  auto r = c.read_http_response();
  ASSERT_TRUE(r) << c.error();
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(error_code(r), "payload_too_large");
}

TEST_F(Api, PortHeldByAnotherSocketIs409AndNothingChanges) {
  json body = good_body();
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_ANY);
  a.sin_port = htons(static_cast<std::uint16_t>(body["module_server_port"].get<int>()));
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  auto r = with_token("POST", "/v1/provision", body);
  ::close(fd);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(error_code(r), "port_unavailable");
  EXPECT_EQ(state(), "unprovisioned");
  EXPECT_TRUE(fs::exists(d_->state_dir() / "bootstrap-token"));
  // The endpoint port was not left bound either: provisioning now succeeds on it.
  auto again = with_token("POST", "/v1/provision", body);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200) << again->body;
}

TEST_F(Api, ProvisionThroughZoneproxyctlConsumesTheTokenAndOpensTheDataPlane) {
  auto ports = provision(*d_);
  ASSERT_TRUE(ports);
  EXPECT_FALSE(fs::exists(d_->state_dir() / "bootstrap-token")) << "the token must die on success";
  EXPECT_TRUE(fs::exists(d_->state_dir() / "provisioned.json"));
  // 17488 now requires a trusted client certificate, /v1/identity included: without
  // one the TLS handshake completes (so `openssl s_client` still reaches the port) but
  // the request is closed unanswered.
  {
    tls_client c(port(), anon_.get());
    ASSERT_TRUE(c.handshake()) << c.error();
    EXPECT_FALSE(c.request("GET", "/v1/identity").has_value());
  }
  auto untrusted = module_server_ctx("endpoint-client");  // right shape, wrong CA
  tls_client wrong(port(), untrusted.get());
  EXPECT_FALSE(wrong.handshake()) << "a certificate from another CA must fail the handshake";
  auto id = with_cert("GET", "/v1/identity");
  ASSERT_TRUE(id);
  EXPECT_EQ(body_of(id)["state"], "provisioned");
  // The token no longer provisions anything (and the proxy is provisioned anyway).
  auto replay = api_call(port(), anon_.get(), "POST", "/v1/provision", "{}", token_);
  EXPECT_FALSE(replay.has_value());
  // A session pairs over the data plane.
  std::mt19937_64 rng{1};
  const std::string sid = random_session_id(rng);
  auto ep_ctx = anonymous_ctx();
  auto e = open_half(ports->first, ep_ctx.get(), sid, "hi");
  auto m = open_half(ports->second, ms_.get(), sid);
  ASSERT_TRUE(e && m);
  EXPECT_TRUE(read_101(*e));
  EXPECT_TRUE(read_101(*m));
}

TEST_F(Api, StatusDiagnosticsSessionsKillTrustAndMetricsAfterProvisioning) {
  auto ports = provision(*d_);
  ASSERT_TRUE(ports);
  std::mt19937_64 rng{2};
  const std::string sid = random_session_id(rng);
  auto ep_ctx = anonymous_ctx();
  auto e = open_half(ports->first, ep_ctx.get(), sid);
  auto m = open_half(ports->second, ms_.get(), sid);
  ASSERT_TRUE(e && m && read_101(*e) && read_101(*m));
  auto waiting = open_half(ports->first, ep_ctx.get(), random_session_id(rng));

  auto status = body_of(with_cert("GET", "/v1/status"));
  EXPECT_EQ(status["state"], "provisioned");
  EXPECT_EQ(status["listeners"]["endpoint"]["port"], ports->first);
  EXPECT_EQ(status["listeners"]["module_server"]["port"], ports->second);
  EXPECT_EQ(status["sessions"]["live"], 1);
  EXPECT_TRUE(status["certificates"]["rsa"][0]["not_after"].is_string());

  auto diag = body_of(with_cert("GET", "/v1/diagnostics"));
  // Windows has no descriptor limit: 0 there (zoneproxy.exe under Wine).
  if (!daemon_is_windows()) {
    EXPECT_GT(diag["fds"]["limit"].get<long>(), 0);
  }
  EXPECT_GT(diag["memory"]["rss_bytes"].get<long>(), 0);
  EXPECT_EQ(diag["workers"].size(), 2u);
  EXPECT_EQ(diag.dump().find("PRIVATE KEY"), std::string::npos) << "no secrets in diagnostics";

  auto sessions = with_cert("GET", "/v1/sessions");
  ASSERT_TRUE(sessions);
  EXPECT_EQ(sessions->body.find(sid), std::string::npos) << "a full session id leaked";
  auto list = body_of(sessions)["sessions"];
  ASSERT_EQ(list.size(), 2u) << sessions->body;
  bool saw_live = false;
  for (const auto& s : list) {
    EXPECT_EQ(s["id_prefix"].get<std::string>().size(), 8u);
    if (s["id_prefix"] == sid.substr(0, 8)) saw_live = s["state"] == "live";
  }
  EXPECT_TRUE(saw_live);

  auto killed = with_cert("DELETE", "/v1/sessions/" + sid);
  ASSERT_TRUE(killed);
  EXPECT_EQ(killed->status, 204);
  std::string rest;
  e->read_to_end(rest);
  m->read_to_end(rest);
  auto again = with_cert("DELETE", "/v1/sessions/" + sid);
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 404);

  auto trust = body_of(with_cert("GET", "/v1/trust"));
  EXPECT_EQ(trust["trusted_cas"].size(), 1u);
  EXPECT_EQ(trust["history"][0]["action"], "trusted");

  auto metrics = with_cert("GET", "/metrics");
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  for (const char* name : {"zoneproxy_connections_accepted_total", "zoneproxy_sessions_paired_total",
                           "zoneproxy_pairing_latency_seconds_bucket", "zoneproxy_build_info",
                           "zoneproxy_certificate_expiry_timestamp_seconds"}) {
    EXPECT_NE(metrics->body.find(name), std::string::npos) << name;
  }
}

// PROTOCOL.md 4.2 (1.1): DELETE /v1/sessions/<8-character prefix>; several matches: 409
// ambiguous, and none ends.
TEST_F(Api, KillTakesThePrefixSessionsShowsAndRefusesAnAmbiguousOne) {
  auto ports = provision(*d_);
  ASSERT_TRUE(ports);
  auto ep_ctx = anonymous_ctx();
  const std::string one = "0123abcd" + std::string(24, '1'), twin_a = "feed5eed" + std::string(24, '2'),
                    twin_b = "feed5eed" + std::string(24, '3');
  auto a = open_half(ports->first, ep_ctx.get(), one);
  auto b = open_half(ports->first, ep_ctx.get(), twin_a);
  auto c = open_half(ports->first, ep_ctx.get(), twin_b);
  ASSERT_TRUE(data_plane_fixture::eventually(
      [&] { return body_of(with_cert("GET", "/v1/sessions"))["sessions"].size() == 3; }));
  auto ambiguous = with_cert("DELETE", "/v1/sessions/feed5eed");
  ASSERT_TRUE(ambiguous);
  EXPECT_EQ(ambiguous->status, 409);
  EXPECT_EQ(error_code(ambiguous), "ambiguous");
  EXPECT_EQ(body_of(with_cert("GET", "/v1/sessions"))["sessions"].size(), 3u) << "an ambiguous kill ended something";
  auto killed = with_cert("DELETE", "/v1/sessions/0123abcd");
  ASSERT_TRUE(killed);
  EXPECT_EQ(killed->status, 204);
  EXPECT_TRUE(data_plane_fixture::eventually(
      [&] { return body_of(with_cert("GET", "/v1/sessions"))["sessions"].size() == 2; }));
  auto unknown = with_cert("DELETE", "/v1/sessions/99999999");
  ASSERT_TRUE(unknown);
  EXPECT_EQ(unknown->status, 404);
  EXPECT_EQ(ctl(port(), {"kill", twin_a}).status, 0) << "the whole id still works";
}

TEST_F(Api, SettingsChangeAppliesToNewConnectionsAndIsValidated) {
  auto ports = provision(*d_);
  ASSERT_TRUE(ports);
  auto bad = with_cert("PUT", "/v1/settings", json{{"hello_timeout_s", "soon"}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
  EXPECT_NE(bad->body.find("settings.hello_timeout_s"), std::string::npos);
  auto ok = with_cert("PUT", "/v1/settings", json{{"pair_timeout_s", 1}});
  ASSERT_TRUE(ok);
  EXPECT_EQ(ok->status, 200) << ok->body;
  EXPECT_EQ(body_of(ok)["settings"]["pair_timeout_s"], 1);
  EXPECT_EQ(body_of(ok)["settings"]["idle_timeout_s"], 900) << "fields left out keep their values";
  std::mt19937_64 rng{3};
  auto ep_ctx = anonymous_ctx();
  auto e = open_half(ports->first, ep_ctx.get(), random_session_id(rng));
  ASSERT_TRUE(e);
  auto reply = e->read_http_response();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 504) << "the new pair timeout (1 s) applies at once";
}

TEST_F(Api, HotCertificateRotationKeepsLiveSessionsRunning) {
  auto ports = provision(*d_);
  ASSERT_TRUE(ports);
  std::mt19937_64 rng{4};
  const std::string sid = random_session_id(rng);
  auto ep_ctx = anonymous_ctx();
  auto e = open_half(ports->first, ep_ctx.get(), sid);
  auto m = open_half(ports->second, ms_.get(), sid);
  ASSERT_TRUE(e && m && read_101(*e) && read_101(*m));
  const std::string old_serial = cert_sha256_hex(SSL_get0_peer_certificate(e->ssl()));

  auto r = ctl(port(), {"rotate-certs", "--zone-ca-cert", (test_pki() / "zone-ca.crt").string(), "--zone-ca-key",
                        (test_pki() / "zone-ca.key").string(), "--cn", "rotated"});
  ASSERT_EQ(r.status, 0) << r.output;
  // New handshakes get the new certificate at once ...
  tls_client fresh(ports->first, ep_ctx.get());
  ASSERT_TRUE(fresh.handshake());
  EXPECT_NE(cert_sha256_hex(SSL_get0_peer_certificate(fresh.ssl())), old_serial);
  // ... and the live session still relays.
  auto x = exchange(*e, *m, "after rotation", "still here");
  ASSERT_TRUE(x.ok) << x.error;
  EXPECT_EQ(x.b_received_sha256, sha256_hex("after rotation"));
}

TEST_F(Api, RevokeClosesLiveSessionsAndRefusesTheCertificateOnBothPorts) {
  auto ports = provision(*d_);
  ASSERT_TRUE(ports);
  auto ms2 = module_server_ctx("ms-client2");
  std::mt19937_64 rng{5};
  const std::string sid = random_session_id(rng);
  auto ep_ctx = anonymous_ctx();
  auto e = open_half(ports->first, ep_ctx.get(), sid);
  auto m = open_half(ports->second, ms2.get(), sid);
  ASSERT_TRUE(e && m && read_101(*e) && read_101(*m));
  auto r = ctl(port(), {"revoke", pki_cert_sha256("ms-client2"), "--yes"});
  ASSERT_EQ(r.status, 0) << r.output;
  std::string rest;
  e->read_to_end(rest);  // returns once the proxy closed the session
  EXPECT_TRUE(
      data_plane_fixture::eventually([&] { return body_of(with_cert("GET", "/v1/status"))["sessions"]["live"] == 0; }));
  tls_client again(ports->second, ms2.get());
  bool through = again.handshake() && again.write_all(hello_for(random_session_id(rng))) && again.read_some();
  EXPECT_FALSE(through) << "a revoked certificate got through 17487";
  EXPECT_FALSE(api_call(port(), ms2.get(), "GET", "/v1/identity").has_value()) << "17488 must refuse it too";
  auto trust = body_of(with_cert("GET", "/v1/trust"));
  EXPECT_EQ(trust["revoked"][0], pki_cert_sha256("ms-client2"));
}

TEST_F(Api, DeprovisionClosesEverythingAndIssuesANewToken) {
  auto ports = provision(*d_);
  ASSERT_TRUE(ports);
  auto r = ctl(port(), {"deprovision", "--yes"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_EQ(state(), "unprovisioned");
  const std::string token = read_text(d_->state_dir() / "bootstrap-token");
  EXPECT_EQ(token.size(), 64u);
  EXPECT_NE(token, token_);
  tls_client data(ports->first, anon_.get());
  EXPECT_FALSE(data.connected()) << "17486 must be closed after deprovisioning";
  EXPECT_FALSE(fs::exists(d_->state_dir() / "provisioned.json"));
}

TEST_F(Api, ZoneproxyctlExitStatusSaysWhoSaidNo) {
  const std::string pin = identity_pin(d_->state_dir());
  EXPECT_EQ(ctl(port(), {"--pin", pin, "identity"}, false).status, 0);
  EXPECT_EQ(ctl(port(), {"--pin", pin, "status"}, false).status, 1) << "the proxy refused: no token";
  EXPECT_EQ(ctl(free_port(), {"--pin", pin, "identity"}, false).status, 3) << "nothing listens there";
  auto json_out = ctl(port(), {"--pin", pin, "--json", "identity"}, false);
  EXPECT_EQ(json::parse(json_out.output, nullptr, false)["state"], "unprovisioned") << json_out.output;
}

}  // namespace
}  // namespace zp::test
