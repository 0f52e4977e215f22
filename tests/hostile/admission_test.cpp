// PROTOCOL.md 3.6 as an attacker tries it on 17486/17487: what a connection holds before
// it is paired is bounded per source and in total, a waiting half stays watched, the
// descriptor reserve keeps 17488 and second halves going, and max_pending moves both ways.

#include "tests/hostile/hostile.hpp"

#include <unistd.h>

namespace zp::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;

std::string rejected(const std::string& listener, const std::string& reason) {
  return R"(zoneproxy_connections_rejected_total{listener=")" + listener + R"(",reason=")" + reason + R"("})";
}

std::uint64_t waiting(provisioned_daemon& p, const std::string& role) {
  auto s = p.json_of("GET", "/v1/status");
  return s.is_object() ? s["sessions"]["waiting"].value(role, std::uint64_t{0}) : 0;
}

// Pairs one session (endpoint from `source`) and checks a byte crosses each way.
void expect_pairs(provisioned_daemon& p, std::mt19937_64& rng, const char* source) {
  const std::string sid = random_session_id(rng);
  tls_client e(p.endpoint_port(), p.endpoint_ctx(), 10s, source);
  ASSERT_TRUE(e.handshake()) << e.error();
  ASSERT_TRUE(e.write_all(hello_for(sid)));
  auto m = open_half(p.module_server_port(), p.operator_ctx(), sid);
  ASSERT_TRUE(m);
  ASSERT_TRUE(read_101(e) && read_101(*m));
  auto r = exchange(e, *m, "e", "m", 10s);
  EXPECT_TRUE(r.ok) << r.error;
}

TEST(Admission, OverThePerSourceLimitAConnectionIsClosedAtAcceptWhileAnotherSourcePairs) {
  provisioned_daemon p({"max_admitting_per_source=4", "hello_timeout_s=60"});
  ASSERT_TRUE(p.ok()) << p.d().proc().output();
  std::vector<unique_fd> held;
  for (int i = 0; i < 2; ++i) held.emplace_back(raw_connect(p.endpoint_port(), host(20)));
  for (int i = 0; i < 2; ++i) held.emplace_back(raw_connect(p.module_server_port(), host(20)));
  for (auto& f : held) EXPECT_FALSE(closed_within(f.get(), 100ms)) << "within the limit";
  // Both data ports count together.
  unique_fd fifth{raw_connect(p.endpoint_port(), host(20))};
  EXPECT_TRUE(closed_within(fifth.get(), 2s)) << "the 5th admitting connection of one source stayed open";
  std::mt19937_64 rng{1};
  expect_pairs(p, rng, host(21).c_str());
  EXPECT_EQ(p.metric(rejected("endpoint", "admitting_per_source")), 1);
}

TEST(Admission, OverTheGlobalLimitAConnectionIsClosedAtAccept) {
  provisioned_daemon p({"max_admitting=6", "hello_timeout_s=60"});
  ASSERT_TRUE(p.ok());
  std::vector<unique_fd> held;
  for (int h = 0; h < 6; ++h) held.emplace_back(raw_connect(p.endpoint_port(), host(30 + h)));
  for (auto& f : held) EXPECT_FALSE(closed_within(f.get(), 100ms));
  unique_fd seventh{raw_connect(p.module_server_port(), host(40))};
  EXPECT_TRUE(closed_within(seventh.get(), 2s));
  EXPECT_EQ(p.metric(rejected("module_server", "admitting_total")), 1);
  held.clear();  // once they leave, new connections are admitted again
  std::mt19937_64 rng{2};
  ASSERT_TRUE(data_plane_fixture::eventually([&] {
    auto s = p.json_of("GET", "/v1/status");
    return s.is_object() && s["sessions"]["admitting"] == 0;
  }));
  expect_pairs(p, rng, host(41).c_str());
}

// Defect 4: a waiting half whose 64 KiB early-data buffer is full is not read, and its
// reset or close went unnoticed: a later Module Server half got a 101 and a dead peer.
void expect_full_waiting_half_leaves_when(const std::function<void(tls_client&)>& leave) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  std::mt19937_64 rng{3};
  const std::string sid = random_session_id(rng);
  auto e = open_half(p.endpoint_port(), p.endpoint_ctx(), sid, std::string(100 * 1024, 'x'));
  ASSERT_TRUE(e);
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return waiting(p, "endpoint") == 1; }));
  leave(*e);
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return waiting(p, "endpoint") == 0; }, 3s))
      << "the waiting half stayed in the table after its client left";
  auto m = open_half(p.module_server_port(), p.operator_ctx(), sid);
  ASSERT_TRUE(m);
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return waiting(p, "module_server") == 1; }, 3s))
      << "a later Module Server half must wait, not pair with the dead one";
}

TEST(Admission, AWaitingHalfWithFullEarlyDataThatResetsLeavesTheTableAtOnce) {
  expect_full_waiting_half_leaves_when([](tls_client& c) { c.reset(); });
}

TEST(Admission, AWaitingHalfWithFullEarlyDataThatClosesLeavesTheTableAtOnce) {
  expect_full_waiting_half_leaves_when([](tls_client& c) { ::shutdown(c.fd(), SHUT_RDWR); });
}

TEST(Admission, EarlyDataPastTheGlobalBoundIsBackpressureAndNothingIsLost) {
  provisioned_daemon p({"max_early_data_bytes=100000"});
  ASSERT_TRUE(p.ok());
  std::mt19937_64 rng{4};
  std::vector<std::string> ids;
  std::vector<std::unique_ptr<tls_client>> endpoints;
  const std::string early(60000, 'q');
  for (int i = 0; i < 3; ++i) {
    ids.push_back(random_session_id(rng));
    endpoints.push_back(open_half(p.endpoint_port(), p.endpoint_ctx(), ids.back(), early + std::to_string(i)));
    ASSERT_TRUE(endpoints.back());
  }
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return waiting(p, "endpoint") == 3; }));
  auto s = p.json_of("GET", "/v1/status");
  EXPECT_LE(s["sessions"]["early_data_bytes"].get<std::uint64_t>(), 100000u + 3 * 16384u)
      << "past the bound, waiting halves must stop being read";
  for (int i = 0; i < 3; ++i) {
    auto m = open_half(p.module_server_port(), p.operator_ctx(), ids[i]);
    ASSERT_TRUE(m && read_101(*m) && read_101(*endpoints[i]));
    auto r = exchange(*endpoints[i], *m, "", "", 20s);
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.b_received_sha256, sha256_hex(early + std::to_string(i))) << "early data lost or altered";
  }
}

// Defect 7: lowering max_pending answered 200 but waited for a restart; raising was 400.
TEST(Admission, MaxPendingChangesApplyToTheNextHelloBothWays) {
  provisioned_daemon p({"max_pending=3"});
  ASSERT_TRUE(p.ok());
  std::mt19937_64 rng{5};
  auto a = open_half(p.endpoint_port(), p.endpoint_ctx(), random_session_id(rng));
  auto b = open_half(p.endpoint_port(), p.endpoint_ctx(), random_session_id(rng));
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return waiting(p, "endpoint") == 2; }));
  auto lowered = p.call("PUT", "/v1/settings", R"({"max_pending": 2})");
  ASSERT_TRUE(lowered && lowered->status == 200) << (lowered ? lowered->body : "no answer");
  auto refused = open_half(p.endpoint_port(), p.endpoint_ctx(), random_session_id(rng));
  ASSERT_TRUE(refused);
  auto reply = refused->read_http_response();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 503);
  EXPECT_EQ(waiting(p, "endpoint"), 2u) << "lowering must never close a waiting half";
  auto raised = p.call("PUT", "/v1/settings", R"({"max_pending": 200000})");
  ASSERT_TRUE(raised && raised->status == 200) << (raised ? raised->body : "no answer");
  auto third = open_half(p.endpoint_port(), p.endpoint_ctx(), random_session_id(rng));
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return waiting(p, "endpoint") == 3; }));
}

// Descriptors nearly exhausted by silent connections from many sources: 17488 still
// answers the operator and a waiting half still pairs. The daemon runs with 400
// descriptors, so its reserve is 64: silent connections fill it up to the line that is
// 17488's, those in the reserve are dropped after 2 s, and a second half gets in.
TEST(Admission, WithDescriptorsNearlyExhaustedTheOperatorIsServedAndAWaitingHalfPairs) {
  provisioned_daemon p({"max_admitting_per_source=1000", "hello_timeout_s=60"},
                       {"/usr/bin/prlimit", "--nofile=400:400", "--"});
  ASSERT_TRUE(p.ok()) << p.d().proc().output();
  std::mt19937_64 rng{6};
  const std::string sid = random_session_id(rng);
  auto m = open_half(p.module_server_port(), p.operator_ctx(), sid);
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return waiting(p, "module_server") == 1; }));
  std::vector<unique_fd> flood;
  for (int i = 0; i < 420; ++i) {
    flood.emplace_back(raw_connect(p.endpoint_port(), host(50 + i % 200)));
    if (i % 20 == 19 && p.metric(rejected("endpoint", "fd_reserve")) > 0) break;
  }
  // A connect completes in the kernel's backlog before the daemon accepts it: give the
  // accepts time to catch up with the flood.
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return p.metric(rejected("endpoint", "fd_reserve")) > 0; }))
      << "the flood never reached the reserve";
  auto status = p.call("GET", "/v1/status");
  ASSERT_TRUE(status && status->status == 200) << "17488 must answer with descriptors exhausted";
  // The silent ones inside the reserve are dropped after 2 s (a handshake timeout each).
  ASSERT_TRUE(data_plane_fixture::eventually(
      [&] { return p.metric(R"(zoneproxy_tls_handshake_failures_total{listener="endpoint",reason="timeout"})") > 0; },
      10s))
      << "the silent connections in the reserve were never dropped";
  // Until the reserve's lower half (368 of 400 descriptors) has room again.
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return p.metric("process_open_fds") < 360; }, 10s))
      << p.metric("process_open_fds") << " descriptors still open";
  tls_client e(p.endpoint_port(), p.endpoint_ctx(), 10s, host(251).c_str());
  ASSERT_TRUE(e.handshake()) << e.error();
  ASSERT_TRUE(e.write_all(hello_for(sid)));
  ASSERT_TRUE(read_101(e) && read_101(*m)) << "the second half of a waiting session must still pair";
}

}  // namespace
}  // namespace zp::test
