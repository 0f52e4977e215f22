// PROTOCOL.md 4.3: every change is on disk before it is acknowledged, a restart comes
// back in the last acknowledged state, a crash between write and rename leaves the old
// state, and a damaged state dir stops the start naming the file.

#include "tests/support/control_client.hpp"
#include "tests/support/data_plane_fixture.hpp"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace zp::test {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

json identity(std::uint16_t port, SSL_CTX* ctx) {
  auto r = api_call(port, ctx, "GET", "/v1/identity");
  return r ? json::parse(r->body, nullptr, false) : json();
}

TEST(Durability, RestartComesBackProvisionedOnTheSamePortsWithTheSameTrust) {
  temp_dir dir;
  const fs::path state = dir.path() / "state";
  std::pair<std::uint16_t, std::uint16_t> ports;
  auto ms = module_server_ctx();
  {
    daemon d({}, state);
    ASSERT_TRUE(d.wait_ready());
    auto p = provision(d);
    ASSERT_TRUE(p);
    ports = *p;
    ASSERT_EQ(ctl(d.provisioning_port(), {"revoke", pki_cert_sha256("ms-client2"), "--yes"}).status, 0);
    EXPECT_EQ(d.stop(), 0);
  }
  daemon again({}, state);
  ASSERT_TRUE(again.wait_ready()) << again.proc().output();
  EXPECT_EQ(listening_port(again.proc().output(), "endpoint"), ports.first);
  EXPECT_EQ(listening_port(again.proc().output(), "module_server"), ports.second);
  EXPECT_EQ(identity(again.provisioning_port(), ms.get())["state"], "provisioned");
  auto ms2 = module_server_ctx("ms-client2");
  EXPECT_FALSE(api_call(again.provisioning_port(), ms2.get(), "GET", "/v1/identity").has_value())
      << "the revocation must survive the restart";
  EXPECT_FALSE(fs::exists(state / "bootstrap-token"));
  EXPECT_EQ(again.stop(), 0);
}

TEST(Durability, CrashBetweenWriteAndRenameDuringProvisionLeavesItUnprovisioned) {
  temp_dir dir;
  const fs::path state = dir.path() / "state";
  std::string token;
  {
    daemon d({}, state, {"ZP_TEST_CRASH_BEFORE_RENAME=provisioned.json"});
    ASSERT_TRUE(d.wait_ready());
    token = read_text(state / "bootstrap-token");
    EXPECT_FALSE(provision(d).has_value());
    EXPECT_EQ(d.proc().wait(), 86) << "the test hook should have killed it mid-write";
  }
  daemon again({}, state);
  ASSERT_TRUE(again.wait_ready()) << again.proc().output();
  auto anon = anonymous_ctx();
  EXPECT_EQ(identity(again.provisioning_port(), anon.get())["state"], "unprovisioned");
  EXPECT_EQ(read_text(state / "bootstrap-token"), token) << "the token must still be the old one";
  EXPECT_TRUE(provision(again).has_value()) << "and it still provisions";
  EXPECT_EQ(again.stop(), 0);
}

TEST(Durability, CrashDuringRotationLeavesTheOldCertificates) {
  temp_dir dir;
  const fs::path state = dir.path() / "state";
  std::string before;
  {
    daemon d({}, state);
    ASSERT_TRUE(d.wait_ready());
    ASSERT_TRUE(provision(d));
    before = read_text(state / "provisioned.json");
    EXPECT_EQ(d.stop(), 0);
  }
  {
    daemon d({}, state, {"ZP_TEST_CRASH_BEFORE_RENAME=provisioned.json"});
    ASSERT_TRUE(d.wait_ready());
    auto r = ctl(d.provisioning_port(), {"rotate-certs", "--zone-ca-cert", (test_pki() / "zone-ca.crt").string(),
                                         "--zone-ca-key", (test_pki() / "zone-ca.key").string()});
    EXPECT_NE(r.status, 0);
    EXPECT_EQ(d.proc().wait(), 86);
  }
  EXPECT_EQ(read_text(state / "provisioned.json"), before);
  daemon again({}, state);
  ASSERT_TRUE(again.wait_ready()) << again.proc().output();
  auto ms = module_server_ctx();
  EXPECT_EQ(identity(again.provisioning_port(), ms.get())["state"], "provisioned");
  EXPECT_EQ(again.stop(), 0);
}

void expect_start_fails_naming(const fs::path& state, const std::string& name) {
  daemon d({}, state);
  auto status = d.proc().wait();
  ASSERT_TRUE(status.has_value()) << "started on a damaged state dir";
  EXPECT_NE(*status, 0);
  EXPECT_NE(d.proc().output().find(daemon_path(name)), std::string::npos) << d.proc().output();
  EXPECT_EQ(d.proc().output().find("event=listening"), std::string::npos) << "must not fall back to unprovisioned";
}

TEST(Durability, DamagedStateStopsTheStartNamingTheFile) {
  temp_dir dir;
  const fs::path state = dir.path() / "state";
  {
    daemon d({}, state);
    ASSERT_TRUE(d.wait_ready());
    ASSERT_TRUE(provision(d));
    EXPECT_EQ(d.stop(), 0);
  }
  const std::string good = read_text(state / "provisioned.json");
  std::ofstream(state / "provisioned.json", std::ios::trunc) << good.substr(0, good.size() / 2);
  expect_start_fails_naming(state, "provisioned.json");
  std::ofstream(state / "provisioned.json", std::ios::trunc) << good;
  fs::rename(state / "dataplane/rsa.key", state / "rsa.key.moved");
  expect_start_fails_naming(state, "dataplane/rsa.key");
  fs::rename(state / "rsa.key.moved", state / "dataplane/rsa.key");
  daemon ok({}, state);
  EXPECT_TRUE(ok.wait_ready()) << "repaired by hand, it starts again: " << ok.proc().output();
  EXPECT_EQ(ok.stop(), 0);
}

}  // namespace
}  // namespace zp::test
