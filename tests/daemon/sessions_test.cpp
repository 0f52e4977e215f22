// Sessions through a real daemon process, driven from outside as the Module Server and
// endpoints drive it: one suite, two daemons. Under ctest it runs against build/bin/
// zoneproxy; the Wine stage of `bash packaging/dev.sh test` runs the same binary with
//   ZP_TEST_DAEMON="/usr/lib/wine/wine64 build-windows/bin/zoneproxy.exe"
// against the Windows daemon (tests/windows/run-under-wine.sh).

#include "tests/hostile/hostile.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace zp::test {
namespace {

using namespace std::chrono_literals;

// A provisioned daemon (settings: zoneproxyctl --set assignments), with the clients' contexts.
class Sessions : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void start(std::vector<std::string> settings = {}) {
    p_ = std::make_unique<provisioned_daemon>(std::move(settings));
    ASSERT_TRUE(p_->ok()) << "the daemon did not come up provisioned; its log:\n" << p_->d().proc().output();
  }
  void TearDown() override {
    if (HasFailure() && p_) std::fprintf(stderr, "--- daemon log ---\n%s\n", p_->d().proc().output().c_str());
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

TEST_F(Sessions, PairsWhicheverHalfArrivesFirst) {
  for (bool module_server_first : {false, true}) {
    auto s = pair_session(module_server_first);
    ASSERT_TRUE(s.live) << "module_server_first=" << module_server_first;
    ASSERT_TRUE(s.endpoint->write_all("ping"));
    auto got = s.module_server->read_some();
    EXPECT_EQ(got.value_or(""), "ping");
  }
}

TEST_F(Sessions, SixteenMebibytesEachWayArriveUnchanged) {
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

TEST_F(Sessions, EarlyDataSentBeforeThePeerArrivesIsDelivered) {
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

TEST_F(Sessions, HalfCloseKeepsTheOtherDirectionOpen) {
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

TEST_F(Sessions, RevokingTheModuleServerCertificateClosesItsLiveSession) {
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

TEST_F(Sessions, MetricsAreScrapedWithTheSessionsItRelayed) {
  auto s = pair_session();
  ASSERT_TRUE(s.live);
  auto r = p_->call("GET", "/metrics");
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("zoneproxy_build_info"), std::string::npos);
  EXPECT_EQ(p_->metric("zoneproxy_sessions_active"), 1) << r->body.substr(0, 2000);
  EXPECT_GT(p_->metric("process_resident_memory_bytes"), 1e6) << "GetProcessMemoryInfo gave nothing";
  EXPECT_GT(p_->metric("process_cpu_seconds_total"), 0) << "GetProcessTimes gave nothing";
  if (daemon_is_windows()) {
    // process_open_fds (GetProcessHandleCount) is only present: Wine 8 answers 0 (a stub).
    EXPECT_GE(p_->metric("process_open_fds"), 0) << "process_open_fds missing";
    EXPECT_EQ(p_->metric("process_max_fds"), -1)
        << "Windows has no descriptor limit: the series must be absent, not 0 (an open/max alert would fire)";
  } else {
    EXPECT_GT(p_->metric("process_open_fds"), 4);
    EXPECT_GT(p_->metric("process_max_fds"), p_->metric("process_open_fds"));
  }
}

TEST_F(Sessions, AStopDrainsLiveSessionsThenExitsZero) {
  auto s = pair_session();
  ASSERT_TRUE(s.live);
  p_->d().request_stop();  // SIGTERM; for zoneproxy.exe under Wine, the console's Ctrl-C
  ASSERT_TRUE(p_->d().proc().wait_for_output("event=draining", 20s)) << "no drain began";
  // Draining: the live session still relays (drain timeout 1 s in provisioned_daemon).
  EXPECT_TRUE(s.endpoint->write_all("during drain"));
  EXPECT_EQ(s.module_server->read_some().value_or(""), "during drain");
  auto status = p_->d().proc().wait(60s);
  ASSERT_TRUE(status.has_value()) << "did not exit after the drain";
  EXPECT_EQ(*status, 0);
  EXPECT_NE(p_->d().proc().output().find("event=stopped"), std::string::npos);
}

// A reader that stops reading stops its writer: the proxy passes the backpressure on
// instead of buffering what it cannot deliver, and nothing is lost when reading resumes.
TEST_F(Sessions, ASlowReaderHoldsItsWriterBackAndTheProxyBuffersNothing) {
  auto s = pair_session();
  ASSERT_TRUE(s.live);
  const double rss_before = p_->metric("process_resident_memory_bytes");
  ASSERT_GT(rss_before, 0);
  const std::string payload = random_bytes(48 << 20, rng_);
  std::atomic<std::size_t> written{0};
  std::atomic<bool> write_ok{true};
  std::thread writer([&] {
    constexpr std::size_t k_chunk = 64 << 10;
    for (std::size_t at = 0; at < payload.size() && write_ok; at += k_chunk) {
      write_ok = s.endpoint->write_all(std::string_view(payload).substr(at, k_chunk));
      if (write_ok) written = std::min(payload.size(), at + k_chunk);
    }
  });
  // The module server reads nothing: the writer must come to a stop well short of 48 MiB.
  std::size_t last = 0;
  bool stalled = false;
  for (int i = 0; i < 40 && !stalled; ++i) {
    std::this_thread::sleep_for(500ms);
    const std::size_t now = written;
    stalled = now == last && now > 0;
    last = now;
  }
  EXPECT_TRUE(stalled) << "the writer never stopped: " << last << " bytes went out with nobody reading";
  EXPECT_LT(last, payload.size() / 2) << "about half the payload went out with nobody reading";
  const double rss_stalled = p_->metric("process_resident_memory_bytes");
  std::printf("  writer stopped after %.1f MiB; the proxy grew by %.1f MiB\n", static_cast<double>(last) / (1 << 20),
              (rss_stalled - rss_before) / (1 << 20));
  EXPECT_LT(rss_stalled - rss_before, 16.0 * (1 << 20))
      << "the proxy grew by " << (rss_stalled - rss_before) / (1 << 20) << " MiB holding a stalled session";
  // Reading resumes: every byte arrives, in order.
  std::string got;
  while (got.size() < payload.size()) {
    auto more = s.module_server->read_some(1 << 20);
    if (!more || more->empty()) break;
    got += *more;
  }
  writer.join();
  EXPECT_TRUE(write_ok);
  EXPECT_EQ(got.size(), payload.size());
  EXPECT_EQ(sha256_hex(got), sha256_hex(payload)) << "the payload changed on the way";
}

// PROTOCOL.md 3.5: a session with no bytes either way for idle_timeout is closed; one
// that keeps talking is not.
TEST_F(Sessions, AnIdleSessionIsClosedAfterTheIdleTimeoutAndABusyOneIsNot) {
  start({"idle_timeout_s=2"});
  auto idle = pair_session();
  auto busy = pair_session();
  ASSERT_TRUE(idle.live && busy.live);
  const auto until = std::chrono::steady_clock::now() + 4s;
  while (std::chrono::steady_clock::now() < until) {
    ASSERT_TRUE(busy.endpoint->write_all("tick"));
    ASSERT_EQ(busy.module_server->read_some().value_or(""), "tick");
    std::this_thread::sleep_for(400ms);
  }
  EXPECT_TRUE(closed_within(idle.endpoint->fd(), 5s)) << "the idle session outlived idle_timeout (endpoint side)";
  EXPECT_TRUE(closed_within(idle.module_server->fd(), 5s)) << "the idle session outlived idle_timeout (module server)";
  EXPECT_TRUE(busy.module_server->write_all("still here"));
  EXPECT_EQ(busy.endpoint->read_some().value_or(""), "still here") << "the busy session was closed";
}

// A hundred sessions live at once, each carrying its own payload both ways: every byte
// reaches its own peer and no other.
TEST_F(Sessions, AHundredConcurrentSessionsEachDeliverTheirOwnBytes) {
  constexpr int k_sessions = 100;
  std::vector<pair_of> sessions;
  for (int i = 0; i < k_sessions; ++i) {
    sessions.push_back(pair_session(i % 2 == 1));
    ASSERT_TRUE(sessions.back().live) << "session " << i << " did not pair";
  }
  EXPECT_EQ(p_->metric("zoneproxy_sessions_active"), k_sessions);
  constexpr int k_threads = 4;
  std::vector<std::thread> threads;
  std::vector<std::string> failures(k_threads);
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&, t] {
      std::mt19937_64 rng(static_cast<std::uint64_t>(t) + 1);
      for (int i = t; i < k_sessions; i += k_threads) {
        const std::string up = random_bytes(128 << 10, rng) + std::to_string(i);
        const std::string down = random_bytes(128 << 10, rng) + std::to_string(i);
        auto r = exchange(*sessions[i].endpoint, *sessions[i].module_server, up, down, 120s);
        if (!r.ok || r.b_received_sha256 != sha256_hex(up) || r.a_received_sha256 != sha256_hex(down)) {
          failures[t] += "session " + std::to_string(i) + ": " + (r.ok ? "bytes changed" : r.error) + "\n";
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& f : failures) EXPECT_TRUE(f.empty()) << f;
}
}  // namespace
}  // namespace zp::test
