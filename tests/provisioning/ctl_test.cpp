// zoneproxyctl as an operator uses it day to day: defaults from the environment or
// ~/.config/zoneproxy/ctl.toml, exit statuses a script can branch on, no irreversible
// change without --yes off a terminal, sizes and durations with units, certificates
// signed by a CA the tool never sees, and CA replacement.

#include "tests/support/control_client.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>

namespace zp::test {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

class Ctl : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<daemon>();
    ASSERT_TRUE(d_->wait_ready());
  }
  std::string ctl_bin() const { return (bin_dir() / "zoneproxyctl").string(); }
  std::string proxy() const { return "127.0.0.1:" + std::to_string(d_->provisioning_port()); }
  std::string state() {
    auto r = ctl(d_->provisioning_port(), {"--insecure", "--json", "identity"});  // before and after provisioning
    auto j = json::parse(r.output, nullptr, false);
    return j.is_object() ? j.value("state", "?") : "unparsable: " + r.output;
  }
  std::unique_ptr<daemon> d_;
  temp_dir dir_;
};

TEST_F(Ctl, TakesItsDefaultsFromTheEnvironmentOrItsConfigFileAndFlagsWin) {
  ASSERT_TRUE(provision(*d_));
  const std::string cert = (test_pki() / "ms-client.crt").string(), key = (test_pki() / "ms-client.key").string(),
                    ca = (test_pki() / "zone-ca.crt").string();
  auto from_env = run({"/usr/bin/env", "HOME=" + dir_.path().string(), "ZONEPROXY_CTL_PROXY=" + proxy(),
                       "ZONEPROXY_CTL_CERT=" + cert, "ZONEPROXY_CTL_KEY=" + key, "ZONEPROXY_CTL_CA=" + ca, ctl_bin(),
                       "--json", "status"});
  EXPECT_EQ(from_env.status, 0) << from_env.output;
  EXPECT_EQ(json::parse(from_env.output, nullptr, false).value("state", ""), "provisioned") << from_env.output;

  fs::create_directories(dir_.path() / ".config" / "zoneproxy");
  std::ofstream(dir_.path() / ".config" / "zoneproxy" / "ctl.toml")
      << "proxy = \"" << proxy() << "\"\ncert = \"" << cert << "\"\nkey = \"" << key << "\"\nca = \"" << ca << "\"\n";
  auto from_file = run({"/usr/bin/env", "HOME=" + dir_.path().string(), ctl_bin(), "--json", "status"});
  EXPECT_EQ(from_file.status, 0) << from_file.output;
  // A flag beats the file: nothing listens on port 1.
  auto flag_wins =
      run({"/usr/bin/env", "HOME=" + dir_.path().string(), ctl_bin(), "--proxy", "127.0.0.1:1", "--json", "status"});
  EXPECT_EQ(flag_wins.status, 3) << flag_wins.output;
  std::ofstream(dir_.path() / ".config" / "zoneproxy" / "ctl.toml") << "colour = \"blue\"\n";
  auto bad_file = run({"/usr/bin/env", "HOME=" + dir_.path().string(), ctl_bin(), "status"});
  EXPECT_EQ(bad_file.status, 2) << "an unknown key in ctl.toml is a usage error: " << bad_file.output;
}

TEST_F(Ctl, ExitStatusesSayOkRefusedUsageOrUnreachable) {
  const std::string pin = identity_pin(d_->state_dir());
  EXPECT_EQ(ctl(d_->provisioning_port(), {"--pin", pin, "identity"}, false).status, 0);
  EXPECT_EQ(ctl(d_->provisioning_port(), {"--pin", pin, "status"}, false).status, 1)
      << "refused: no certificate, no token";
  EXPECT_EQ(ctl(d_->provisioning_port(), {"status", "--no-such-flag"}, false).status, 2);
  EXPECT_EQ(ctl(d_->provisioning_port(), {"--cert", "/nonexistent.crt", "status"}, false).status, 2);
  EXPECT_EQ(ctl(free_port(), {"identity"}, false).status, 3) << "nothing listens there";
  // A proxy that cannot be verified: a pin that is not its key.
  EXPECT_EQ(ctl(d_->provisioning_port(), {"--pin", std::string(64, 'a'), "identity"}, false).status, 3);
}

TEST_F(Ctl, IrreversibleCommandsNeedYesWhenNotOnATerminal) {
  ASSERT_TRUE(provision(*d_));
  auto r = ctl(d_->provisioning_port(), {"deprovision"});
  EXPECT_EQ(r.status, 2) << r.output;
  EXPECT_NE(r.output.find("--yes"), std::string::npos) << r.output;
  EXPECT_EQ(state(), "provisioned") << "nothing was done";
  auto revoke = ctl(d_->provisioning_port(), {"revoke", pki_cert_sha256("ms-client2")});
  EXPECT_EQ(revoke.status, 2) << revoke.output;
  auto trust = ctl(d_->provisioning_port(), {"--json", "trust"});
  EXPECT_TRUE(json::parse(trust.output, nullptr, false)["revoked"].empty()) << trust.output;
  EXPECT_EQ(ctl(d_->provisioning_port(), {"deprovision", "--yes"}).status, 0);
  EXPECT_EQ(state(), "unprovisioned");
}

TEST_F(Ctl, HumanOutputCarriesUnits) {
  ASSERT_TRUE(provision(*d_));
  auto r = ctl(d_->provisioning_port(), {"diagnostics"});
  ASSERT_EQ(r.status, 0) << r.output;
  // Settings and limits as an operator reads them; --json keeps the raw numbers.
  EXPECT_NE(r.output.find("pair_timeout_s: 30s"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("idle_timeout_s: 15m"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("max_early_data_bytes: 256.0 MiB"), std::string::npos) << r.output;
  auto raw = ctl(d_->provisioning_port(), {"--json", "diagnostics"});
  EXPECT_EQ(json::parse(raw.output, nullptr, false)["config"]["settings"].value("pair_timeout_s", 0), 30);
}

TEST_F(Ctl, ProvisionsAndRotatesWithCertificatesSignedElsewhere) {
  const fs::path out = dir_.path() / "csrs";
  fs::create_directories(out);
  const std::string pin = identity_pin(d_->state_dir());
  const std::string token_file = (d_->state_dir() / "bootstrap-token").string();
  auto csr = ctl(
      d_->provisioning_port(),
      {"--pin", pin, "--token-file", token_file, "csr", "--cn", "zone1", "--ip", "127.0.0.1", "--out", out.string()},
      false);
  ASSERT_EQ(csr.status, 0) << csr.output;
  // "Elsewhere": the operator's CA, with openssl, outside zoneproxyctl.
  for (const char* type : {"rsa", "ecdsa"}) {
    auto signed_by_ca =
        run({"/bin/bash", (source_dir() / "certs" / "sign-csr.sh").string(), (test_pki() / "zone-ca.crt").string(),
             (test_pki() / "zone-ca.key").string(), (out / (std::string(type) + ".csr")).string(),
             (out / (std::string(type) + ".crt")).string()});
    ASSERT_EQ(signed_by_ca.status, 0) << signed_by_ca.output;
  }
  auto prov = ctl(d_->provisioning_port(),
                  {"--pin", pin, "--token-file", token_file, "provision", "--module-server-ca",
                   (test_pki() / "ms-ca.crt").string(), "--endpoint-port", std::to_string(free_port()),
                   "--module-server-port", std::to_string(free_port()), "--certificates-from", out.string()},
                  false);
  ASSERT_EQ(prov.status, 0) << prov.output;
  EXPECT_EQ(state(), "provisioned");
  auto rotate = ctl(d_->provisioning_port(), {"rotate-certs", "--certificates-from", out.string()});
  EXPECT_EQ(rotate.status, 0) << rotate.output;
  auto both = ctl(d_->provisioning_port(), {"rotate-certs", "--certificates-from", out.string(), "--zone-ca-cert",
                                            (test_pki() / "zone-ca.crt").string()});
  EXPECT_EQ(both.status, 2) << "a directory or the zone CA's key, not both: " << both.output;
}

// A zone CA key kept encrypted: its passphrase from a file (or asked for on a terminal);
// without it, off a terminal, a usage error that names the option, and nothing changes.
TEST_F(Ctl, ProvisionsWithAnEncryptedZoneCaKey) {
  const fs::path key = dir_.path() / "zone-ca.enc.key", pass = dir_.path() / "pass", wrong = dir_.path() / "wrong";
  auto made = run({"/usr/bin/openssl", "pkey", "-in", (test_pki() / "zone-ca.key").string(), "-aes256", "-passout",
                   "pass:correct horse", "-out", key.string()});
  ASSERT_EQ(made.status, 0) << made.output;
  std::ofstream(pass) << "correct horse\n";
  std::ofstream(wrong) << "battery staple\n";
  const std::vector<std::string> common = {"--pin",
                                           identity_pin(d_->state_dir()),
                                           "--token-file",
                                           (d_->state_dir() / "bootstrap-token").string(),
                                           "provision",
                                           "--module-server-ca",
                                           (test_pki() / "ms-ca.crt").string(),
                                           "--zone-ca-cert",
                                           (test_pki() / "zone-ca.crt").string(),
                                           "--zone-ca-key",
                                           key.string(),
                                           "--ip",
                                           "127.0.0.1",
                                           "--endpoint-port",
                                           std::to_string(free_port()),
                                           "--module-server-port",
                                           std::to_string(free_port())};
  auto without = ctl(d_->provisioning_port(), common, false);
  EXPECT_EQ(without.status, 2) << without.output;
  EXPECT_NE(without.output.find("--zone-ca-key-pass-file"), std::string::npos) << without.output;
  auto with_wrong = common;
  with_wrong.insert(with_wrong.end(), {"--zone-ca-key-pass-file", wrong.string()});
  auto bad = ctl(d_->provisioning_port(), with_wrong, false);
  EXPECT_EQ(bad.status, 2) << bad.output;
  EXPECT_NE(bad.output.find("wrong passphrase"), std::string::npos) << bad.output;
  EXPECT_EQ(state(), "unprovisioned");
  auto with_pass = common;
  with_pass.insert(with_pass.end(), {"--zone-ca-key-pass-file", pass.string()});
  auto ok = ctl(d_->provisioning_port(), with_pass, false);
  EXPECT_EQ(ok.status, 0) << ok.output;
  EXPECT_EQ(state(), "provisioned");
}

TEST_F(Ctl, SetCasReplacesTheTrustedCasAndRefusesALockOut) {
  ASSERT_TRUE(provision(*d_, {"--observer-ca", (test_pki() / "observer-ca.crt").string()}));
  // Only the observer CA as Module Server CA: the caller's own certificate would stop
  // chaining, so the proxy refuses (409 would_lock_out) and ctl exits 1.
  auto lock_out = ctl(d_->provisioning_port(),
                      {"trust", "set-cas", "--module-server-ca", (test_pki() / "observer-ca.crt").string()});
  EXPECT_EQ(lock_out.status, 1) << lock_out.output;
  EXPECT_NE(lock_out.output.find("would_lock_out"), std::string::npos) << lock_out.output;
  auto drop_observers = ctl(d_->provisioning_port(), {"trust", "set-cas", "--no-observer-ca"});
  EXPECT_EQ(drop_observers.status, 0) << drop_observers.output;
  auto as_observer =
      ctl(d_->provisioning_port(),
          {"--cert", (test_pki() / "observer-client.crt").string(), "--key",
           (test_pki() / "observer-client.key").string(), "--ca", (test_pki() / "zone-ca.crt").string(), "status"},
          false);
  EXPECT_NE(as_observer.status, 0) << "observers are no longer trusted: " << as_observer.output;
  EXPECT_EQ(ctl(d_->provisioning_port(), {"trust", "set-cas"}).status, 2) << "nothing to set";
}

}  // namespace
}  // namespace zp::test

namespace zp::test {
namespace {

// zoneproxyctl verifies the proxy unless told --insecure: by the CA and the name, or by a
// pin that holds before and after provisioning.
class CtlVerifies : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(d_.wait_ready());
    ASSERT_TRUE(provision(d_));  // certificates for IP 127.0.0.1 only
  }
  std::string port() const { return std::to_string(d_.provisioning_port()); }
  std::vector<std::string> client() const {
    return {"--cert", (test_pki() / "ms-client.crt").string(), "--key", (test_pki() / "ms-client.key").string()};
  }
  run_result ctl_at(const std::string& host, std::vector<std::string> args) {
    std::vector<std::string> argv = {(bin_dir() / "zoneproxyctl").string(), "--proxy", host + ":" + port()};
    for (auto& a : client()) argv.push_back(a);
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, std::chrono::seconds(60));
  }
  daemon d_;
};

TEST_F(CtlVerifies, WithoutCaOrPinTheProxyIsNotTrustedAndTheMessageSaysWhatToGive) {
  auto r = ctl_at("127.0.0.1", {"status"});
  EXPECT_EQ(r.status, 3) << r.output;
  EXPECT_NE(r.output.find("--ca"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("--pin"), std::string::npos) << r.output;
  EXPECT_EQ(ctl_at("127.0.0.1", {"--insecure", "status"}).status, 0) << "--insecure is the only way round it";
}

TEST_F(CtlVerifies, TheCaIsNotEnoughWhenTheNameIsWrong) {
  const std::string ca = (test_pki() / "zone-ca.crt").string();
  auto right = ctl_at("127.0.0.1", {"--ca", ca, "status"});
  EXPECT_EQ(right.status, 0) << right.output;
  // "localhost" reaches the same proxy, but its certificate names only 127.0.0.1.
  auto wrong = ctl_at("localhost", {"--ca", ca, "status"});
  EXPECT_EQ(wrong.status, 3) << wrong.output;
  EXPECT_NE(wrong.output.find("is not for \"localhost\""), std::string::npos) << wrong.output;
}

TEST_F(CtlVerifies, ThePinsOfTheStartLogWorkBeforeAndAfterProvisioning) {
  // The daemon logged them at its first start, before provisioning (SetUp provisioned since).
  const std::string log = d_.proc().output();
  const auto at = log.find(" pins=");
  ASSERT_NE(at, std::string::npos) << log;
  const std::string pins = log.substr(at + 6, log.find_first_of(" \n", at + 6) - (at + 6));
  auto r = ctl_at("127.0.0.1", {"--pin", pins, "--json", "status"});
  EXPECT_EQ(r.status, 0) << r.output;
  auto wrong = ctl_at("127.0.0.1", {"--pin", std::string(64, 'b'), "status"});
  EXPECT_EQ(wrong.status, 3) << wrong.output;
}

TEST_F(CtlVerifies, GlobalFlagsAfterTheSubcommandListSettingsAndRevokeByFile) {
  const std::string ca = (test_pki() / "zone-ca.crt").string();
  auto after = ctl_at("127.0.0.1", {"status", "--json", "--ca", ca});
  ASSERT_EQ(after.status, 0) << after.output;
  EXPECT_EQ(json::parse(after.output, nullptr, false).value("state", ""), "provisioned") << after.output;

  auto set = ctl_at("127.0.0.1", {"--ca", ca, "--json", "settings", "proxy_protocol_sources=10.0.0.0/8,10.1.0.0/16"});
  ASSERT_EQ(set.status, 0) << set.output;
  const auto sources = json::parse(set.output, nullptr, false)["settings"]["proxy_protocol_sources"];
  EXPECT_EQ(sources, json::array({"10.0.0.0/8", "10.1.0.0/16"})) << set.output;
  auto one = ctl_at("127.0.0.1", {"--ca", ca, "--json", "settings", "proxy_protocol_sources=192.0.2.0/24"});
  EXPECT_EQ(json::parse(one.output, nullptr, false)["settings"]["proxy_protocol_sources"],
            json::array({"192.0.2.0/24"}))
      << one.output;
  auto none = ctl_at("127.0.0.1", {"--ca", ca, "--json", "settings", "proxy_protocol_sources="});
  EXPECT_EQ(json::parse(none.output, nullptr, false)["settings"]["proxy_protocol_sources"], json::array())
      << none.output;

  auto revoked = ctl_at("127.0.0.1",
                        {"--ca", ca, "--json", "revoke", "--cert", (test_pki() / "ms-client2.crt").string(), "--yes"});
  ASSERT_EQ(revoked.status, 0) << revoked.output;
  EXPECT_NE(revoked.output.find(pki_cert_sha256("ms-client2")), std::string::npos) << revoked.output;
}

}  // namespace
}  // namespace zp::test
