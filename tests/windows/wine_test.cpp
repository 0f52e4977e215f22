// The Windows executables, run under Wine on this machine, held to what the Linux daemon
// does (issue: zoneproxy.exe relaying sessions). Not part of the normal ctest run: the
// Wine stage of `bash packaging/dev.sh test` runs
//
//   ZP_TEST_DAEMON="/usr/lib/wine/wine64 build-windows/bin/zoneproxy.exe" wine_test --gtest_filter='WineDaemon.*'
//   ZP_TEST_CTL="/usr/lib/wine/wine64 build-windows/bin/zoneproxyctl.exe" wine_test --gtest_filter='WineCtl.*'
//
// WineDaemon.* drive the exe from Linux, exactly as the Module Server and endpoints would:
// provisioned with the Linux zoneproxyctl, sessions from Linux TLS clients. WineCtl.* run
// zoneproxyctl.exe against the Linux daemon. Each test fails (never skips) when its
// variable is missing, so a stage that forgot it cannot pass.

#include "tests/hostile/hostile.hpp"

#include <gtest/gtest.h>

#include <csignal>
#include <cstdlib>
#include <random>
#include <sstream>
#include <thread>

namespace zp::test {
namespace {

using namespace std::chrono_literals;

// A provisioned Windows daemon under Wine, with the Linux clients' contexts.
class WineDaemon : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(daemon_is_windows()) << "set ZP_TEST_DAEMON to the Wine command of zoneproxy.exe";
    p_ = std::make_unique<provisioned_daemon>();
    ASSERT_TRUE(p_->ok()) << "the Windows daemon did not come up provisioned; its log:\n" << p_->d().proc().output();
  }
  void TearDown() override {
    if (HasFailure() && p_) std::fprintf(stderr, "--- zoneproxy.exe log ---\n%s\n", p_->d().proc().output().c_str());
  }

  // Both halves of a fresh session, paired; the endpoint first unless `module_server_first`.
  struct pair_of {
    std::unique_ptr<tls_client> endpoint, module_server;
    bool live = false;  // both halves answered 101
  };
  pair_of pair_session(bool module_server_first = false, std::string_view early = {}) {
    const std::string id = random_session_id(rng_);
    pair_of s;
    if (module_server_first) {
      s.module_server = open_half(p_->module_server_port(), p_->operator_ctx(), id, early);
      s.endpoint = open_half(p_->endpoint_port(), p_->endpoint_ctx(), id);
    } else {
      s.endpoint = open_half(p_->endpoint_port(), p_->endpoint_ctx(), id, early);
      s.module_server = open_half(p_->module_server_port(), p_->operator_ctx(), id);
    }
    s.live = s.endpoint && s.module_server && read_101(*s.endpoint) && read_101(*s.module_server);
    return s;
  }
  static std::string random_bytes(std::size_t n, std::mt19937_64& rng) {
    std::string out(n, '\0');
    for (auto& c : out) c = static_cast<char>(rng());
    return out;
  }

  std::unique_ptr<provisioned_daemon> p_;
  std::mt19937_64 rng_{std::random_device{}()};
};

TEST_F(WineDaemon, PairsWhicheverHalfArrivesFirst) {
  for (bool module_server_first : {false, true}) {
    auto s = pair_session(module_server_first);
    ASSERT_TRUE(s.live) << "module_server_first=" << module_server_first;
    ASSERT_TRUE(s.endpoint->write_all("ping"));
    auto got = s.module_server->read_some();
    EXPECT_EQ(got.value_or(""), "ping");
  }
}

TEST_F(WineDaemon, SixteenMebibytesEachWayArriveUnchanged) {
  auto s = pair_session();
  ASSERT_TRUE(s.live);
  const std::string up = random_bytes(16 << 20, rng_), down = random_bytes(16 << 20, rng_);
  auto r = exchange(*s.endpoint, *s.module_server, up, down, 300s);
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.b_received, up.size());
  EXPECT_EQ(r.a_received, down.size());
  EXPECT_EQ(r.b_received_sha256, sha256_hex(up)) << "endpoint -> module server altered";
  EXPECT_EQ(r.a_received_sha256, sha256_hex(down)) << "module server -> endpoint altered";
}

TEST_F(WineDaemon, EarlyDataSentBeforeThePeerArrivesIsDelivered) {
  const std::string id = random_session_id(rng_);
  auto endpoint = open_half(p_->endpoint_port(), p_->endpoint_ctx(), id, "sent-before-pairing");
  ASSERT_TRUE(endpoint);
  std::this_thread::sleep_for(200ms);  // the endpoint waits alone with its early data held
  auto module_server = open_half(p_->module_server_port(), p_->operator_ctx(), id);
  ASSERT_TRUE(module_server);
  ASSERT_TRUE(read_101(*module_server));
  std::string got = module_server->take_buffered();
  while (got.size() < std::string_view("sent-before-pairing").size()) {
    auto more = module_server->read_some();
    if (!more || more->empty()) break;
    got += *more;
  }
  EXPECT_EQ(got, "sent-before-pairing");
}

TEST_F(WineDaemon, HalfCloseKeepsTheOtherDirectionOpen) {
  auto s = pair_session();
  ASSERT_TRUE(s.live);
  ASSERT_TRUE(s.endpoint->write_all("last words"));
  s.endpoint->shutdown_write();
  std::string at_module_server;
  EXPECT_TRUE(s.module_server->read_to_end(at_module_server)) << "the endpoint's end did not reach the module server";
  EXPECT_EQ(at_module_server, "last words");
  // The module server's direction is still open: it answers, then ends too.
  ASSERT_TRUE(s.module_server->write_all("reply after your end"));
  s.module_server->shutdown_write();
  std::string at_endpoint;
  EXPECT_TRUE(s.endpoint->read_to_end(at_endpoint));
  EXPECT_EQ(at_endpoint, "reply after your end");
}

TEST_F(WineDaemon, RevokingTheModuleServerCertificateClosesItsLiveSession) {
  auto s = pair_session();
  ASSERT_TRUE(s.live);
  // The session runs on the ms-client certificate; the operator revokes it with another.
  auto r = api_call(p_->api_port(), module_server_ctx("ms-client2").get(), "POST", "/v1/trust/revoke",
                    nlohmann::json{{"fingerprint", pki_cert_sha256("ms-client")}}.dump());
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_TRUE(closed_within(s.endpoint->fd(), 5s)) << "the session outlived the revocation (endpoint side)";
  EXPECT_TRUE(closed_within(s.module_server->fd(), 5s)) << "the session outlived the revocation (module server side)";
  tls_client again(p_->module_server_port(), p_->operator_ctx());
  EXPECT_FALSE(again.handshake()) << "a revoked certificate completed a new handshake";
}

TEST_F(WineDaemon, MetricsAreScrapedWithTheSessionsItRelayed) {
  auto s = pair_session();
  ASSERT_TRUE(s.live);
  auto r = p_->call("GET", "/metrics");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("zoneproxy_build_info"), std::string::npos);
  EXPECT_EQ(p_->metric("zoneproxy_sessions_active"), 1) << r->body.substr(0, 2000);
  EXPECT_GT(p_->metric("process_resident_memory_bytes"), 1e6) << "GetProcessMemoryInfo gave nothing";
  EXPECT_GT(p_->metric("process_cpu_seconds_total"), 0) << "GetProcessTimes gave nothing";
  // process_open_fds (GetProcessHandleCount) is not checked: Wine 8 answers 0 (a stub).
  EXPECT_EQ(p_->metric("process_open_fds") >= 0, true) << "process_open_fds missing";
  EXPECT_EQ(p_->metric("process_max_fds"), -1)
      << "Windows has no descriptor limit: the series must be absent, not 0 (an open/max alert would fire)";
}

TEST_F(WineDaemon, CtrlCDrainsLiveSessionsThenExitsZero) {
  auto s = pair_session();
  ASSERT_TRUE(s.live);
  p_->d().proc().signal(SIGINT);  // Wine: the console's Ctrl-C event
  ASSERT_TRUE(p_->d().proc().wait_for_output("event=draining", 20s)) << "no drain began";
  // Draining: the live session still relays (drain timeout 1 s in provisioned_daemon).
  EXPECT_TRUE(s.endpoint->write_all("during drain"));
  EXPECT_EQ(s.module_server->read_some().value_or(""), "during drain");
  auto status = p_->d().proc().wait(60s);
  ASSERT_TRUE(status.has_value()) << "did not exit after the drain";
  EXPECT_EQ(*status, 0);
  EXPECT_NE(p_->d().proc().output().find("event=stopped"), std::string::npos);
}

// zoneproxyctl.exe against the Linux daemon.
class WineCtl : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* command = std::getenv("ZP_TEST_CTL");
    ASSERT_TRUE(command != nullptr && *command != '\0') << "set ZP_TEST_CTL to the Wine command of zoneproxyctl.exe";
    std::istringstream words(command);
    for (std::string w; words >> w;) ctl_.push_back(w);
    ASSERT_FALSE(daemon_is_windows()) << "WineCtl runs against the Linux daemon: unset ZP_TEST_DAEMON";
    p_ = std::make_unique<provisioned_daemon>();
    ASSERT_TRUE(p_->ok());
  }
  run_result ctl_exe(std::vector<std::string> args) {
    const auto pki = test_pki();
    std::vector<std::string> argv = ctl_;
    argv.insert(argv.end(), {"--proxy", "127.0.0.1:" + std::to_string(p_->api_port()), "--cert",
                             (pki / "ms-client.crt").string(), "--key", (pki / "ms-client.key").string()});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 60s);
  }
  std::vector<std::string> ctl_;
  std::unique_ptr<provisioned_daemon> p_;
};

TEST_F(WineCtl, StatusShowsTheProvisionedLinuxDaemon) {
  auto r = ctl_exe({"--json", "status"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto j = nlohmann::json::parse(r.output.substr(r.output.find('{')), nullptr, false);
  ASSERT_FALSE(j.is_discarded()) << r.output;
  EXPECT_EQ(j.value("state", ""), "provisioned") << r.output;
}

TEST_F(WineCtl, SessionsListsALiveSession) {
  std::mt19937_64 rng{std::random_device{}()};
  const std::string id = random_session_id(rng);
  auto endpoint = open_half(p_->endpoint_port(), p_->endpoint_ctx(), id);
  auto module_server = open_half(p_->module_server_port(), p_->operator_ctx(), id);
  ASSERT_TRUE(endpoint && module_server);
  ASSERT_TRUE(read_101(*endpoint));
  ASSERT_TRUE(read_101(*module_server));
  auto r = ctl_exe({"sessions"});
  ASSERT_EQ(r.status, 0) << r.output;
  EXPECT_NE(r.output.find(id.substr(0, 8)), std::string::npos) << r.output;
}

TEST_F(WineCtl, AnUnreachableProxyExitsThree) {
  std::vector<std::string> argv = ctl_;
  argv.insert(argv.end(), {"--proxy", "127.0.0.1:" + std::to_string(free_port()), "status"});
  auto r = run(argv, 60s);
  EXPECT_EQ(r.status, 3) << r.output;
}

}  // namespace
}  // namespace zp::test
