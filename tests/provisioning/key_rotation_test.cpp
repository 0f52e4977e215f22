// Key rotation (README "Rotating keys"): POST /v1/keys/rotate makes new data-plane keys
// that wait as pending, with CSRs for them; the keys in force stay served until PUT
// /v1/certificates installs certificates for the pending ones, and then all three ports
// serve the new keys at once. A crash at any instant leaves the old keys or the new ones
// in force, never certificates without their key.

#include "common/fingerprint.hpp"
#include "tests/support/control_client.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <random>

namespace zp::test {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

json body_of(const std::optional<http_reply>& r) { return r ? json::parse(r->body, nullptr, false) : json(); }

// The SPKI SHA-256 of the certificate a fresh handshake on `port` gets.
std::string served_spki(std::uint16_t port, SSL_CTX* ctx) {
  tls_client c(port, ctx);
  if (!c.handshake()) return "no handshake: " + c.error();
  X509* cert = SSL_get0_peer_certificate(c.ssl());
  return cert == nullptr ? "no certificate" : spki_sha256_hex(cert);
}

bool is_one_of(const std::string& spki, const json& pins) { return spki == pins["rsa"] || spki == pins["ecdsa"]; }

class KeyRotation : public ::testing::Test {
 protected:
  void SetUp() override { start({}); }

  void start(std::vector<std::string> env) {
    d_ = std::make_unique<daemon>(std::vector<std::string>{}, state_, std::move(env));
    ASSERT_TRUE(d_->wait_ready()) << d_->proc().output();
    if (!ports_) {
      ports_ = provision(*d_);
      ASSERT_TRUE(ports_);
    }
  }
  void restart(std::vector<std::string> env = {}) {
    if (d_ && d_->proc().running()) {
      ASSERT_EQ(d_->stop(), 0);
    }
    d_.reset();
    start(std::move(env));
  }

  std::uint16_t port() const { return d_->provisioning_port(); }
  std::optional<http_reply> call(const std::string& method, const std::string& path, const json& body = nullptr) {
    return api_call(port(), ms_.get(), method, path, body.is_null() ? std::string() : body.dump());
  }
  json keys() { return body_of(call("GET", "/v1/status"))["keys"]; }
  std::optional<http_reply> rotate(json extra = json::object()) {
    json body = {{"common_name", "zone1"}, {"ip_addresses", {"127.0.0.1"}}};
    body.update(extra);
    return call("POST", "/v1/keys/rotate", body);
  }
  // Certificates for the CSRs of a /v1/csr or /v1/keys/rotate answer, signed by the zone CA
  // with openssl (certs/sign-csr.sh), as an operator's own CA would.
  json sign(const json& csrs) {
    json certs;
    for (const char* t : {"rsa", "ecdsa"}) {
      const fs::path csr = dir_.path() / (std::string(t) + ".csr"), crt = dir_.path() / (std::string(t) + ".crt");
      std::ofstream(csr) << csrs[t].get<std::string>();
      auto r = run({"/bin/bash", (source_dir() / "certs/sign-csr.sh").string(), (test_pki() / "zone-ca.crt").string(),
                    (test_pki() / "zone-ca.key").string(), csr.string(), crt.string()});
      EXPECT_EQ(r.status, 0) << r.output;
      certs[t] = read_text(crt);
    }
    return certs;
  }
  // What each of the three ports serves to a new handshake.
  std::vector<std::string> served() {
    return {served_spki(ports_->first, anon_.get()), served_spki(ports_->second, ms_.get()),
            served_spki(port(), ms_.get())};
  }
  bool metric_is(const std::string& line) {
    auto m = call("GET", "/metrics");
    return m && m->body.find(line + "\n") != std::string::npos;
  }

  temp_dir dir_;
  fs::path state_ = dir_.path() / "state";
  std::unique_ptr<daemon> d_;
  std::optional<std::pair<std::uint16_t, std::uint16_t>> ports_;
  ssl_ctx_ptr ms_ = module_server_ctx();
  ssl_ctx_ptr anon_ = anonymous_ctx();
};

TEST_F(KeyRotation, NewKeysAreServedOnlyOnceTheirCertificatesAreInstalled) {
  const json before = keys();
  ASSERT_TRUE(before["pending_pins"].is_null()) << before;
  for (const auto& spki : served()) EXPECT_TRUE(is_one_of(spki, before["pins"])) << spki << " " << before;
  // A session paired on the old keys, to outlive the rotation.
  std::mt19937_64 rng{25};
  const std::string sid = random_session_id(rng);
  auto e = open_half(ports_->first, anon_.get(), sid);
  auto m = open_half(ports_->second, ms_.get(), sid);
  ASSERT_TRUE(e && m && read_101(*e) && read_101(*m));

  auto pending = rotate();
  ASSERT_TRUE(pending);
  ASSERT_EQ(pending->status, 200) << pending->body;
  const json p = body_of(pending);
  EXPECT_TRUE(p["new"].get<bool>());
  EXPECT_NE(p["pending_pins"]["rsa"], before["pins"]["rsa"]);
  EXPECT_NE(p["pending_pins"]["ecdsa"], before["pins"]["ecdsa"]);
  EXPECT_EQ(keys()["pending_pins"], p["pending_pins"]);
  EXPECT_TRUE(metric_is("zoneproxy_key_rotation_pending 1"));
  for (const auto& spki : served()) EXPECT_TRUE(is_one_of(spki, before["pins"])) << "pending keys are not served yet";

  auto installed = call("PUT", "/v1/certificates", sign(p));
  ASSERT_TRUE(installed);
  ASSERT_EQ(installed->status, 200) << installed->body;
  EXPECT_TRUE(body_of(installed)["keys_rotated"].get<bool>());
  EXPECT_EQ(body_of(installed)["pins"], p["pending_pins"]);
  for (const auto& spki : served()) EXPECT_TRUE(is_one_of(spki, p["pending_pins"])) << "all three ports, at once";
  EXPECT_TRUE(keys()["pending_pins"].is_null());
  EXPECT_TRUE(metric_is("zoneproxy_key_rotation_pending 0"));
  auto x = exchange(*e, *m, "through the rotation", "and back");
  ASSERT_TRUE(x.ok) << x.error;
  EXPECT_EQ(x.b_received_sha256, sha256_hex("through the rotation"));

  const std::string log = d_->proc().output();
  EXPECT_NE(log.find("action=key_rotation_started"), std::string::npos) << log;
  EXPECT_NE(log.find("action=keys_rotated client_subject="), std::string::npos) << log;
  EXPECT_NE(log.find("ecdsa_spki_sha256=" + p["pending_pins"]["ecdsa"].get<std::string>() +
                     " previous_rsa_spki_sha256=" + before["pins"]["rsa"].get<std::string>()),
            std::string::npos)
      << log;
  EXPECT_FALSE(fs::exists(state_ / "dataplane.pending"));

  restart();
  for (const auto& spki : served()) EXPECT_TRUE(is_one_of(spki, p["pending_pins"])) << "after a restart too";
  EXPECT_NE(d_->proc().output().find(p["pending_pins"]["ecdsa"].get<std::string>()), std::string::npos)
      << "the start log's pins= are the new keys'";
}

TEST_F(KeyRotation, ARepeatedRequestGetsTheSamePendingKeysUnlessRegenerated) {
  const json first = body_of(rotate());
  const json again = body_of(rotate());
  EXPECT_EQ(again["pending_pins"], first["pending_pins"]) << "a retry after a lost answer must not orphan the CSRs";
  EXPECT_FALSE(again["new"].get<bool>());
  const json fresh = body_of(rotate({{"regenerate", true}}));
  EXPECT_TRUE(fresh["new"].get<bool>());
  EXPECT_NE(fresh["pending_pins"]["rsa"], first["pending_pins"]["rsa"]);
  EXPECT_NE(fresh["pending_pins"]["ecdsa"], first["pending_pins"]["ecdsa"]);
  // Certificates for the discarded keys install nothing.
  auto stale = call("PUT", "/v1/certificates", sign(first));
  ASSERT_TRUE(stale);
  EXPECT_EQ(stale->status, 400) << stale->body;
  EXPECT_EQ(keys()["pending_pins"], fresh["pending_pins"]);
}

TEST_F(KeyRotation, MixedCertificatesChangeNothingAndOldKeysStillTakeNewCertificates) {
  const json before = keys();
  const json p = body_of(rotate());
  const json for_pending = sign(p);
  const json for_current = sign(body_of(call("POST", "/v1/csr", {{"common_name", "zone1"}})));
  auto mixed = call("PUT", "/v1/certificates", {{"rsa", for_pending["rsa"]}, {"ecdsa", for_current["ecdsa"]}});
  ASSERT_TRUE(mixed);
  EXPECT_EQ(mixed->status, 400);
  EXPECT_NE(mixed->body.find("certificates.rsa"), std::string::npos) << mixed->body;
  EXPECT_NE(mixed->body.find("pending"), std::string::npos) << mixed->body;
  EXPECT_EQ(keys(), json({{"pins", before["pins"]}, {"pending_pins", p["pending_pins"]}})) << "nothing changed";
  // rotate-certs while a rotation waits: the keys in force take new certificates, and the
  // pending keys keep waiting.
  auto renewed = call("PUT", "/v1/certificates", for_current);
  ASSERT_TRUE(renewed);
  EXPECT_EQ(renewed->status, 200) << renewed->body;
  EXPECT_FALSE(body_of(renewed)["keys_rotated"].get<bool>());
  EXPECT_EQ(keys(), json({{"pins", before["pins"]}, {"pending_pins", p["pending_pins"]}}));
}

TEST_F(KeyRotation, BadRequestsAndObserversChangeNothing) {
  for (const json& bad : {json{{"regenerate", "yes"}}, json{{"common_name", 7}}, json{{"key_type", "rsa"}}}) {
    auto r = rotate(bad);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << bad << " " << r->body;
    EXPECT_NE(r->body.find(bad.begin().key()), std::string::npos) << "the message names the field: " << r->body;
  }
  auto observer = module_server_ctx("observer-client");
  ASSERT_TRUE(call("PUT", "/v1/trust/cas", {{"observer_ca", read_text(test_pki() / "observer-ca.crt")}}));
  auto r = api_call(port(), observer.get(), "POST", "/v1/keys/rotate", R"({"common_name": "x"})");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403) << r->body;
  EXPECT_TRUE(keys()["pending_pins"].is_null());
  EXPECT_FALSE(fs::exists(state_ / "dataplane.pending"));
}

// The commit point is provisioned.json: a crash before it leaves the old keys in force
// (and the same pending ones), a crash after it, between the two directory renames or
// before them, is finished by the next start.
TEST_F(KeyRotation, ACrashBeforeTheCommitKeepsTheOldKeysAndThePendingOnes) {
  const json before = keys();
  const json p = body_of(rotate());
  const json certs = sign(p);
  restart({"ZP_TEST_CRASH_BEFORE_RENAME=provisioned.json"});
  EXPECT_FALSE(call("PUT", "/v1/certificates", certs).has_value());
  EXPECT_EQ(d_->proc().wait(), 86) << "the test hook should have killed it mid-write";
  restart();
  EXPECT_EQ(keys(), json({{"pins", before["pins"]}, {"pending_pins", p["pending_pins"]}}));
  for (const auto& spki : served()) EXPECT_TRUE(is_one_of(spki, before["pins"])) << spki;
  auto installed = call("PUT", "/v1/certificates", certs);
  ASSERT_TRUE(installed);
  EXPECT_EQ(installed->status, 200) << "the same certificates install after the restart: " << installed->body;
}

class KeyRotationCrash : public KeyRotation, public ::testing::WithParamInterface<const char*> {};

TEST_P(KeyRotationCrash, AfterTheCommitTheNextStartFinishesIt) {
  const json p = body_of(rotate());
  const json certs = sign(p);
  restart({std::string("ZP_TEST_CRASH_BEFORE_RENAME=") + GetParam()});
  EXPECT_FALSE(call("PUT", "/v1/certificates", certs).has_value());
  EXPECT_EQ(d_->proc().wait(), 86) << d_->proc().output();
  restart();
  EXPECT_NE(d_->proc().output().find("event=key_rotation_finished reason=interrupted_by_restart"), std::string::npos)
      << d_->proc().output();
  EXPECT_EQ(keys(), json({{"pins", p["pending_pins"]}, {"pending_pins", nullptr}}));
  for (const auto& spki : served()) EXPECT_TRUE(is_one_of(spki, p["pending_pins"])) << spki;
  EXPECT_FALSE(fs::exists(state_ / "dataplane.pending"));
  EXPECT_FALSE(fs::exists(state_ / ".dataplane.tmp-retired")) << "the old keys are deleted";
}

// "dataplane": killed before the old keys move aside; "dataplane.pending": killed with the
// old keys moved aside and the new ones not yet in place.
INSTANTIATE_TEST_SUITE_P(Renames, KeyRotationCrash, ::testing::Values("dataplane", "dataplane.pending"),
                         [](const auto& info) { return std::string(info.param[9] == '.' ? "Second" : "First"); });

// zoneproxyctl rotate-keys: with the zone CA in one step, printing the new pins; with
// --csr-out, the CSRs for a CA elsewhere, installed later by rotate-certs.
TEST_F(KeyRotation, ZoneproxyctlRotatesInOneStepOrThroughCsrFiles) {
  auto one_step = ctl(port(), {"rotate-keys", "--zone-ca-cert", (test_pki() / "zone-ca.crt").string(), "--zone-ca-key",
                               (test_pki() / "zone-ca.key").string(), "--ip", "127.0.0.1"});
  ASSERT_EQ(one_step.status, 0) << one_step.output;
  const json after_one = keys();
  EXPECT_NE(one_step.output.find("ecdsa " + after_one["pins"]["ecdsa"].get<std::string>()), std::string::npos)
      << one_step.output;
  EXPECT_TRUE(after_one["pending_pins"].is_null());
  for (const auto& spki : served()) EXPECT_TRUE(is_one_of(spki, after_one["pins"])) << spki;

  const fs::path out = dir_.path() / "pending-csrs";
  fs::create_directories(out);
  auto csrs = ctl(port(), {"rotate-keys", "--csr-out", out.string(), "--ip", "127.0.0.1"});
  ASSERT_EQ(csrs.status, 0) << csrs.output;
  const json pending = keys()["pending_pins"];
  ASSERT_FALSE(pending.is_null());
  for (const char* type : {"rsa", "ecdsa"}) {
    auto r = run({"/bin/bash", (source_dir() / "certs/sign-csr.sh").string(), (test_pki() / "zone-ca.crt").string(),
                  (test_pki() / "zone-ca.key").string(), (out / (std::string(type) + ".csr")).string(),
                  (out / (std::string(type) + ".crt")).string()});
    ASSERT_EQ(r.status, 0) << r.output;
  }
  auto install = ctl(port(), {"rotate-certs", "--certificates-from", out.string()});
  ASSERT_EQ(install.status, 0) << install.output;
  EXPECT_EQ(keys()["pins"], pending);
  auto neither = ctl(port(), {"rotate-keys"});
  EXPECT_EQ(neither.status, 2) << neither.output;
}

}  // namespace
}  // namespace zp::test
