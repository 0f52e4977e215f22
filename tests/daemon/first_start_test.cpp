// PROTOCOL.md 4.1 and the foundation issue: what the first start leaves on disk, what
// a restart reuses, what GET /v1/identity answers, and how a bad state dir is refused
// without anything in it being touched.

#include "common/tls_policy.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/tls_client.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace zp::test {
namespace {

namespace fs = std::filesystem;

unsigned mode_of(const fs::path& p) {
  struct stat st {};
  if (::stat(p.c_str(), &st) != 0) return 0xffffffff;
  return st.st_mode & 07777;
}

// Every file under a directory with its content, to prove nothing was changed.
std::map<std::string, std::string> snapshot(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    out[e.path().string()] = e.is_regular_file() ? read_text(e.path()) : "<dir>";
  }
  return out;
}

// The fingerprint the way an operator computes it, with the openssl CLI.
std::string cli_spki_sha256(const fs::path& cert) {
  auto r = run({"/bin/bash", "-c",
                "openssl x509 -in '" + cert.string() +
                    "' -pubkey -noout | openssl pkey -pubin -outform der | sha256sum | cut -d' ' -f1"});
  EXPECT_EQ(r.status, 0) << r.output;
  return r.output.substr(0, 64);
}

nlohmann::json get_identity(std::uint16_t port) {
  auto ctx = make_client_ctx(nullptr, {});
  EXPECT_TRUE(ctx.ok());
  tls_client c(port, ctx->get());
  EXPECT_TRUE(c.handshake()) << c.error();
  auto reply = c.request("GET", "/v1/identity");
  EXPECT_TRUE(reply.has_value());
  if (!reply) return {};
  EXPECT_EQ(reply->status, 200) << reply->body;
  EXPECT_EQ(reply->headers["content-type"], "application/json");
  return nlohmann::json::parse(reply->body);
}

TEST(FirstStart, CreatesStateDirKeysAndTokenWithPrivateModes) {
  daemon d;
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  const fs::path& s = d.state_dir();
  EXPECT_EQ(mode_of(s), 0700u);
  for (const char* key : {"identity/rsa.key", "identity/ecdsa.key", "bootstrap-token"}) {
    EXPECT_EQ(mode_of(s / key), 0600u) << key;
  }
  std::string token = read_text(s / "bootstrap-token");
  EXPECT_EQ(token.size(), 64u);
  EXPECT_EQ(token.find_first_not_of("0123456789abcdef"), std::string::npos) << token;
  // The operator learns where the token is and what to pin, from the log.
  std::string log = d.proc().output();
  EXPECT_NE(log.find("token_file=" + (s / "bootstrap-token").string()), std::string::npos) << log;
  EXPECT_NE(log.find("rsa_spki_sha256=" + cli_spki_sha256(s / "identity/rsa.crt")), std::string::npos) << log;
  EXPECT_NE(log.find("ecdsa_spki_sha256=" + cli_spki_sha256(s / "identity/ecdsa.crt")), std::string::npos) << log;
  EXPECT_EQ(log.find(token), std::string::npos) << "the token itself must never be logged";
  EXPECT_EQ(d.stop(), 0);
}

TEST(FirstStart, IdentityEndpointReportsTheFingerprintsOfTheCertificatesOnDisk) {
  daemon d;
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  auto id = get_identity(d.provisioning_port());
  EXPECT_EQ(id["state"], "unprovisioned");
  EXPECT_EQ(id["version"], ZONEPROXY_VERSION);
  EXPECT_EQ(id["fingerprints"]["rsa"], cli_spki_sha256(d.state_dir() / "identity/rsa.crt"));
  EXPECT_EQ(id["fingerprints"]["ecdsa"], cli_spki_sha256(d.state_dir() / "identity/ecdsa.crt"));
  EXPECT_EQ(d.stop(), 0);
}

TEST(FirstStart, UnknownPathsAnswer404AndWrongMethods405InTheJsonErrorShape) {
  daemon d;
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  auto ctx = make_client_ctx(nullptr, {});
  ASSERT_TRUE(ctx.ok());
  tls_client c(d.provisioning_port(), ctx->get());
  ASSERT_TRUE(c.handshake()) << c.error();
  // Keep-alive: both requests go over one connection.
  auto missing = c.request("GET", "/v1/nothing-here");
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 404);
  EXPECT_EQ(nlohmann::json::parse(missing->body)["error"]["code"], "not_found");
  auto wrong = c.request("DELETE", "/v1/identity");
  ASSERT_TRUE(wrong);
  EXPECT_EQ(wrong->status, 405);
  auto body = nlohmann::json::parse(wrong->body);
  EXPECT_EQ(body["error"]["code"], "method_not_allowed");
  EXPECT_TRUE(body["error"]["message"].is_string());
  EXPECT_EQ(d.stop(), 0);
}

TEST(FirstStart, RestartReusesIdentityAndToken) {
  temp_dir dir;
  const fs::path state = dir.path() / "state";
  std::string first_rsa, first_ecdsa, first_token;
  {
    daemon d({}, state);
    ASSERT_TRUE(d.wait_ready()) << d.proc().output();
    auto id = get_identity(d.provisioning_port());
    first_rsa = id["fingerprints"]["rsa"];
    first_ecdsa = id["fingerprints"]["ecdsa"];
    first_token = read_text(state / "bootstrap-token");
    EXPECT_EQ(d.stop(), 0);
  }
  daemon again({}, state);
  ASSERT_TRUE(again.wait_ready()) << again.proc().output();
  auto id = get_identity(again.provisioning_port());
  EXPECT_EQ(id["fingerprints"]["rsa"], first_rsa);
  EXPECT_EQ(id["fingerprints"]["ecdsa"], first_ecdsa);
  EXPECT_EQ(read_text(state / "bootstrap-token"), first_token);
  EXPECT_EQ(again.stop(), 0);
}

TEST(FirstStart, SigintAlsoStopsCleanly) {
  daemon d;
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  d.proc().signal(SIGINT);
  EXPECT_EQ(d.proc().wait(), 0);
}

// Starts once to populate a state dir, lets `damage` break it, and expects the next
// start to fail with `expected` in its output and every file left exactly as it was.
void expect_refused_untouched(const std::function<void(const fs::path&)>& damage, const std::string& expected) {
  temp_dir dir;
  const fs::path state = dir.path() / "state";
  {
    daemon d({}, state);
    ASSERT_TRUE(d.wait_ready()) << d.proc().output();
    ASSERT_EQ(d.stop(), 0);
  }
  damage(state);
  auto before = snapshot(state);
  daemon d({}, state);
  auto status = d.proc().wait();
  ASSERT_TRUE(status.has_value()) << "daemon kept running on a bad state dir";
  EXPECT_NE(*status, 0);
  std::string out = d.proc().output();
  EXPECT_NE(out.find(expected), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << "expected one line: " << out;
  EXPECT_EQ(snapshot(state), before);
}

TEST(BadStateDir, GroupReadableDirectoryIsRefused) {
  expect_refused_untouched([](const fs::path& s) { ::chmod(s.c_str(), 0750); }, "has mode 0750");
}

TEST(BadStateDir, CorruptKeyIsRefusedNamingTheFile) {
  expect_refused_untouched(
      [](const fs::path& s) {
        std::ofstream(s / "identity/rsa.key", std::ios::trunc) << "-----BEGIN PRIVATE KEY-----\njunk\n";
        ::chmod((s / "identity/rsa.key").c_str(), 0600);
      },
      "identity/rsa.key");
}

TEST(BadStateDir, WorldReadableKeyIsRefusedNamingTheFile) {
  expect_refused_untouched([](const fs::path& s) { ::chmod((s / "identity/ecdsa.key").c_str(), 0644); },
                           "identity/ecdsa.key has mode 0644");
}

TEST(BadStateDir, MissingCertificateIsRefusedAndNotRegenerated) {
  expect_refused_untouched([](const fs::path& s) { fs::remove(s / "identity/ecdsa.crt"); }, "identity/ecdsa.crt");
}

TEST(BadStateDir, UnreadableTokenIsRefused) {
  expect_refused_untouched(
      [](const fs::path& s) {
        std::ofstream(s / "bootstrap-token", std::ios::trunc) << "not-a-token";
        ::chmod((s / "bootstrap-token").c_str(), 0600);
      },
      "bootstrap-token: not a 64-hex-character token");
}

}  // namespace
}  // namespace zp::test
