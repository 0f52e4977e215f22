// The trust and state edges an attacker, a crash or a bad disk can reach: revocation
// racing a pairing, damaged state files, a failing deprovision, crash ordering and
// leftovers, an intermediate CA, and a tool that would hand the bootstrap token to
// anyone.

#include "tests/hostile/hostile.hpp"
#include "tests/support/data_plane_fixture.hpp"

#include <filesystem>
#include <fstream>

namespace zp::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

// Defect 5: a half claimed across workers at the moment of revocation was in no list the
// revocation walked. In-process, so the revocation can land exactly there: after the
// Module Server half waits, the set changes without the data plane being told.
TEST(TrustEdges, ASessionDoesNotStartForACertificateRevokedWhileItsHalfWaited) {
  data_plane_fixture f;
  std::mt19937_64 rng{7};
  const std::string sid = random_session_id(rng);
  auto m = open_half(f.module_server_port(), f.module_server_ctx(), sid);
  ASSERT_TRUE(m && data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::module_server) == 1; }));
  f.revoke(f.module_server_cert_sha256());  // the set only: no close_revoked() walk
  auto e = open_half(f.endpoint_port(), f.endpoint_ctx(), sid, "secret");
  ASSERT_TRUE(e);
  EXPECT_FALSE(read_101(*m)) << "a revoked Module Server got its session";
  EXPECT_FALSE(read_101(*e));
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return f.plane().live_sessions() == 0; }));
}

void write_file(const fs::path& file, const std::string& text) { std::ofstream(file, std::ios::trunc) << text; }

// Defect 8: a wrong type in a state file aborted with an uncaught exception (exit 134,
// a restart loop). One line naming file and field, exit 2, nothing changed.
void expect_damage_refused(const std::string& file, const std::string& field) {
  temp_dir dir;
  const fs::path state = dir.path() / "state";
  {
    provisioned_daemon p({}, {}, {}, state);
    ASSERT_TRUE(p.ok());
    EXPECT_EQ(p.d().stop(), 0);
  }
  json j = json::parse(read_text(state / file));
  j[field] = nullptr;
  write_file(state / file, j.dump());
  const std::string before = read_text(state / file);
  daemon again({}, state);
  auto status = again.proc().wait();
  ASSERT_TRUE(status.has_value()) << "the daemon started on a damaged " << file;
  EXPECT_EQ(*status, 2) << again.proc().output();
  const std::string out = again.proc().output();
  EXPECT_NE(out.find(daemon_path((state / file).string())), std::string::npos) << out;
  EXPECT_NE(out.find(field), std::string::npos) << out;
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_EQ(read_text(state / file), before);
}

TEST(TrustEdges, AWrongTypeInProvisionedJsonStopsTheStartWithOneLineAndStatus2) {
  expect_damage_refused("provisioned.json", "format");
  expect_damage_refused("provisioned.json", "provisioned_at");
}

TEST(TrustEdges, AWrongTypeInTrustJsonStopsTheStartWithOneLineAndStatus2) {
  expect_damage_refused("trust.json", "format");
}

// Defect 9: a deprovision that failed half-way left the data plane stopped and the state
// "provisioned"; the next PUT crashed. Now it is all or nothing, and (PROTOCOL.md 4.3,
// 1.2) the disk's refusal is 503 storage_unavailable naming the file.
TEST(TrustEdges, AFailedDeprovisionChangesNothing) {
  provisioned_daemon p({}, {}, {"ZP_TEST_FAIL_REMOVE=provisioned.json"});
  ASSERT_TRUE(p.ok());
  auto r = p.call("POST", "/v1/deprovision");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_NE(r->body.find("storage_unavailable"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("provisioned.json"), std::string::npos) << r->body;
  EXPECT_EQ(p.json_of("GET", "/v1/status")["state"], "provisioned");
  auto put = p.call("PUT", "/v1/settings", R"({"pair_timeout_s": 20})");
  ASSERT_TRUE(put.has_value());
  EXPECT_EQ(put->status, 200) << put->body;
  std::mt19937_64 rng{9};
  const std::string sid = random_session_id(rng);
  auto e = open_half(p.endpoint_port(), p.endpoint_ctx(), sid);
  auto m = open_half(p.module_server_port(), p.operator_ctx(), sid);
  ASSERT_TRUE(e && m);
  EXPECT_TRUE(read_101(*e) && read_101(*m)) << "the data plane must still run";
  EXPECT_FALSE(fs::exists(p.d().state_dir() / "bootstrap-token")) << "no token for a proxy still provisioned";
}

// Defect 10: trust.json was written before provisioned.json, so a crash between them left
// "trusted" history for a provisioning that never happened; temporaries with private keys
// were never cleaned.
TEST(TrustEdges, ACrashBetweenTheTwoProvisioningFilesLeavesAConsistentState) {
  temp_dir dir;
  const fs::path state = dir.path() / "state";
  {
    daemon d({}, state, {"ZP_TEST_CRASH_BEFORE_RENAME=trust.json"});
    ASSERT_TRUE(d.wait_ready());
    EXPECT_FALSE(provision(d).has_value());
    EXPECT_EQ(d.proc().wait(), 86) << "the test hook should have killed it writing trust.json";
  }
  bool leftover = false;
  for (const auto& e : fs::directory_iterator(state))
    leftover |= e.path().filename().string().find(".tmp-") != std::string::npos;
  ASSERT_TRUE(leftover) << "the crash should have left a temporary behind";
  fs::create_directory(state / ".identity.tmp-abc123");
  write_file(state / ".identity.tmp-abc123" / "rsa.key", "a private key a crash left behind");

  daemon again({}, state);
  ASSERT_TRUE(again.wait_ready()) << again.proc().output();
  for (const auto& e : fs::directory_iterator(state)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp-"), std::string::npos) << e.path() << " was not cleaned";
  }
  // provisioned.json was the commit point: provisioned, with its trust history complete.
  auto ms = module_server_ctx();
  auto trust = api_call(again.provisioning_port(), ms.get(), "GET", "/v1/trust");
  ASSERT_TRUE(trust.has_value()) << "not provisioned after the commit";
  auto history = json::parse(trust->body)["history"];
  ASSERT_FALSE(history.empty());
  EXPECT_EQ(history[0]["action"], "trusted");
  EXPECT_EQ(history[0]["fingerprint"], pki_cert_sha256("ms-ca"));
  EXPECT_EQ(again.stop(), 0);
}

// Defect 11: an intermediate CA as module_server_ca was accepted at provisioning, then
// every client-certificate handshake failed. Chains ending at it are now trusted.
TEST(TrustEdges, AnIntermediateCaAsModuleServerCaLetsItsClientsIn) {
  temp_dir dir;
  const fs::path pki = dir.path();
  const std::string script = "set -e; cd '" + pki.string() + "'; P='" + test_pki().string() + "'\n" +
                             R"(openssl ecparam -name prime256v1 -genkey -noout -out int.key 2>/dev/null
openssl req -new -key int.key -subj "/CN=zoneproxy test intermediate" -out int.csr
openssl x509 -req -in int.csr -CA "$P/ms-ca.crt" -CAkey "$P/ms-ca.key" -CAcreateserial -days 30 \
  -extfile <(printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n') -out int.crt 2>/dev/null
openssl ecparam -name prime256v1 -genkey -noout -out leaf.key 2>/dev/null
openssl req -new -key leaf.key -subj "/CN=module server behind an intermediate" -out leaf.csr
openssl x509 -req -in leaf.csr -CA int.crt -CAkey int.key -CAcreateserial -days 30 \
  -extfile <(printf 'extendedKeyUsage=clientAuth\n') -out leaf.crt 2>/dev/null
chmod 600 *.key)";
  auto made = run({"/bin/bash", "-c", script});
  ASSERT_EQ(made.status, 0) << made.output;
  daemon d;
  ASSERT_TRUE(d.wait_ready());
  std::vector<std::string> args = {"--module-server-ca", (pki / "int.crt").string()};
  auto ports = provision(d, args);
  ASSERT_TRUE(ports.has_value()) << "provisioning with an intermediate CA";
  auto id = make_tls_identity(read_text(pki / "leaf.key"), read_text(pki / "leaf.crt"));
  ASSERT_TRUE(id.ok());
  auto ctx = make_client_ctx(&*id, {});
  ASSERT_TRUE(ctx.ok());
  auto status = api_call(d.provisioning_port(), ctx->get(), "GET", "/v1/status");
  ASSERT_TRUE(status.has_value()) << "a client of the provisioned intermediate was refused";
  EXPECT_EQ(status->status, 200);
  auto root_client = api_call(d.provisioning_port(), module_server_ctx().get(), "GET", "/v1/status");
  EXPECT_FALSE(root_client.has_value()) << "a sibling of the intermediate (the root's own client) must not get in";
  EXPECT_EQ(d.stop(), 0);
}

// Defect 13: zoneproxyctl sent the bootstrap token to whatever answered.
TEST(TrustEdges, ZoneproxyctlWillNotSendTheTokenToAnUnverifiedProxy) {
  daemon d;
  ASSERT_TRUE(d.wait_ready());
  const std::string token_file = (d.state_dir() / "bootstrap-token").string();
  auto r = ctl(
      d.provisioning_port(),
      {"--token-file", token_file, "provision", "--module-server-ca", (test_pki() / "ms-ca.crt").string(),
       "--zone-ca-cert", (test_pki() / "zone-ca.crt").string(), "--zone-ca-key", (test_pki() / "zone-ca.key").string()},
      /*with_cert=*/false);
  EXPECT_NE(r.status, 0);
  EXPECT_NE(r.output.find("unverified proxy"), std::string::npos) << r.output;
  EXPECT_EQ(api_call(d.provisioning_port(), anonymous_ctx().get(), "GET", "/v1/identity")
                    .value()
                    .body.find("unprovisioned") != std::string::npos,
            true);
  // The environment works like the file, and --token is gone from the command line.
  auto env_run =
      run({"/usr/bin/env", "ZONEPROXY_BOOTSTRAP_TOKEN=" + read_text(token_file), (bin_dir() / "zoneproxyctl").string(),
           "--proxy", "127.0.0.1:" + std::to_string(d.provisioning_port()), "--pin", identity_pin(d.state_dir()),
           "status"});
  EXPECT_EQ(env_run.status, 1) << "verified and authenticated: the proxy answers 409 (not provisioned) "
                               << env_run.output;
  auto old_flag = ctl(d.provisioning_port(), {"--token", "abc", "identity"}, false);
  EXPECT_NE(old_flag.status, 0);
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace zp::test
