// PROTOCOL.md 3.2-3.4 from the outside: real TLS clients on loopback against an
// in-process data plane configured as a provision would configure it.

#include "tests/support/rendezvous.hpp"
#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>
#include <nlohmann/json.hpp>

namespace zp::test {
namespace {

using namespace std::chrono_literals;

class Rendezvous : public ::testing::Test {
 protected:
  std::mt19937_64 rng_{std::random_device{}()};
  std::string id() { return random_session_id(rng_); }
};

// Expects one complete error response of PROTOCOL.md 3.4 and a clean close after it.
void expect_error(tls_client& c, int status, const std::string& code) {
  auto reply = c.read_http_response();
  ASSERT_TRUE(reply.has_value()) << "no response: " << c.error();
  EXPECT_EQ(reply->status, status) << reply->body;
  EXPECT_EQ(reply->headers["content-type"], "application/json");
  EXPECT_EQ(reply->headers["connection"], "close");
  auto body = nlohmann::json::parse(reply->body, nullptr, false);
  ASSERT_FALSE(body.is_discarded()) << reply->body;
  EXPECT_EQ(body["error"]["code"], code) << reply->body;
  EXPECT_TRUE(body["error"]["message"].is_string()) << reply->body;
  std::string rest;
  EXPECT_TRUE(c.read_to_end(rest)) << "expected close_notify then FIN, got: " << c.error();
  EXPECT_TRUE(rest.empty()) << rest;
}

// Sends raw bytes right after the handshake and expects the given error.
void expect_hello_error(std::uint16_t port, SSL_CTX* ctx, const std::string& raw, int status, const std::string& code) {
  tls_client c(port, ctx);
  ASSERT_TRUE(c.handshake()) << c.error();
  ASSERT_TRUE(c.write_all(raw));
  expect_error(c, status, code);
}

TEST_F(Rendezvous, EndpointFirstThenModuleServerPairAndRelay) {
  data_plane_fixture f;
  const std::string sid = id();
  auto e = open_half(f.endpoint_port(), f.endpoint_ctx(), sid);
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::endpoint) == 1; }));
  auto m = open_half(f.module_server_port(), f.module_server_ctx(), sid);
  ASSERT_TRUE(e && m);
  EXPECT_TRUE(read_101(*e));
  EXPECT_TRUE(read_101(*m));
  auto r = exchange(*e, *m, "from endpoint", "from module server");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.b_received_sha256, sha256_hex("from endpoint"));
  EXPECT_EQ(r.a_received_sha256, sha256_hex("from module server"));
  EXPECT_EQ(f.plane().waiting(proxy::role::endpoint), 0u);
}

TEST_F(Rendezvous, ModuleServerFirstThenEndpointPairAndRelay) {
  data_plane_fixture f;
  const std::string sid = id();
  auto m = open_half(f.module_server_port(), f.module_server_ctx(), sid);
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::module_server) == 1; }));
  auto e = open_half(f.endpoint_port(), f.endpoint_ctx(), sid);
  ASSERT_TRUE(e && m);
  EXPECT_TRUE(read_101(*m));
  EXPECT_TRUE(read_101(*e));
  auto r = exchange(*e, *m, "ping", "pong");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.b_received_sha256, sha256_hex("ping"));
  EXPECT_EQ(r.a_received_sha256, sha256_hex("pong"));
}

TEST_F(Rendezvous, EarlyDataOfBothHalvesIsDeliveredAfterThe101InOrder) {
  data_plane_fixture f;
  const std::string sid = id();
  std::string early_e(40000, 'e'), early_m = "module server spoke first";
  early_e += "|end";
  auto e = open_half(f.endpoint_port(), f.endpoint_ctx(), sid, early_e);
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::endpoint) == 1; }));
  auto m = open_half(f.module_server_port(), f.module_server_ctx(), sid, early_m);
  ASSERT_TRUE(e && m);
  ASSERT_TRUE(read_101(*e));
  ASSERT_TRUE(read_101(*m));
  auto r = exchange(*e, *m, "+after", "+after");
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.b_received_sha256, sha256_hex(early_e + "+after"));
  EXPECT_EQ(r.a_received_sha256, sha256_hex(early_m + "+after"));
}

TEST_F(Rendezvous, MalformedHeadsAre400) {
  data_plane_fixture f;
  const auto p = f.endpoint_port();
  expect_hello_error(p, f.endpoint_ctx(), "this is not http\r\n\r\n", 400, "bad_request");
  expect_hello_error(p, f.endpoint_ctx(), "GET /v1/rendezvous/" + id() + " HTTP/1.0\r\n\r\n", 400, "bad_request");
  expect_hello_error(
      p, f.endpoint_ctx(),
      "GET /v1/rendezvous/" + std::string(32, 'A') + " HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n",
      400, "bad_request");
  expect_hello_error(p, f.endpoint_ctx(),
                     "GET /v1/rendezvous/abc HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n", 400,
                     "bad_request");
}

TEST_F(Rendezvous, HeadOver8192BytesIs400) {
  data_plane_fixture f;
  std::string head = "GET /v1/rendezvous/" + id() + " HTTP/1.1\r\nX-Pad: ";
  head += std::string(8192, 'p');
  head += "\r\n\r\n";
  expect_hello_error(f.module_server_port(), f.module_server_ctx(), head, 400, "bad_request");
}

// ../shared/regressions/hello-head-bound.bin (kept in the fuzz corpus): a head that
// never ends. With hello_timeout far away, only the 8192-byte bound can answer it, in
// one write or dripped in 2-byte TLS records; the reply must be 400, not 408.
TEST_F(Rendezvous, FuzzFoundUnendingHeadIs400BeforeAnyTimeout) {
  data_plane_options o;
  o.settings.hello_timeout = 600s;
  data_plane_fixture f(o);
  const std::string input = read_text(source_dir() / "tests/fuzz/corpus/hello/regression-hello-head-bound");
  ASSERT_EQ(input.size(), 8400u);
  const std::string stream = input.substr(1);  // byte 0 is the fuzz harness's chunk size
  expect_hello_error(f.endpoint_port(), f.endpoint_ctx(), stream, 400, "bad_request");

  tls_client c(f.endpoint_port(), f.endpoint_ctx());
  ASSERT_TRUE(c.handshake()) << c.error();
  for (std::size_t i = 0; i < stream.size(); i += 2) {
    if (!c.write_all(std::string_view(stream).substr(i, 2))) break;  // the proxy may stop reading once it has answered
  }
  expect_error(c, 400, "bad_request");
}

TEST_F(Rendezvous, LongRunOfEmptyLinesBeforeTheRequestLineIs400) {
  data_plane_options o;
  o.settings.hello_timeout = 600s;
  data_plane_fixture f(o);
  std::string flood;
  while (flood.size() < 40000) flood += "\r\n";
  expect_hello_error(f.endpoint_port(), f.endpoint_ctx(), flood + hello_for(id()), 400, "bad_request");
}

TEST_F(Rendezvous, OtherPathsAre404) {
  data_plane_fixture f;
  expect_hello_error(f.endpoint_port(), f.endpoint_ctx(),
                     "GET /v1/identity HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n", 404,
                     "not_found");
}

TEST_F(Rendezvous, MethodsOtherThanGetAre405) {
  data_plane_fixture f;
  for (const char* method : {"POST", "PUT", "DELETE", "HEAD"}) {
    expect_hello_error(f.endpoint_port(), f.endpoint_ctx(),
                       std::string(method) + " /v1/rendezvous/" + id() +
                           " HTTP/1.1\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\nContent-Length: 0\r\n\r\n",
                       405, "method_not_allowed");
  }
}

TEST_F(Rendezvous, MissingOrWrongUpgradeIs426) {
  data_plane_fixture f;
  const std::string target = "GET /v1/rendezvous/" + id() + " HTTP/1.1\r\n";
  expect_hello_error(f.endpoint_port(), f.endpoint_ctx(), target + "Host: x\r\n\r\n", 426, "upgrade_required");
  expect_hello_error(f.endpoint_port(), f.endpoint_ctx(), target + "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
                     426, "upgrade_required");
  expect_hello_error(f.endpoint_port(), f.endpoint_ctx(),
                     target + "Connection: keep-alive\r\nUpgrade: zoneproxy/1\r\n\r\n", 426, "upgrade_required");
}

TEST_F(Rendezvous, HeaderTokensAreCaseInsensitiveListsAndOtherHeadersIgnored) {
  data_plane_fixture f;
  const std::string sid = id();
  tls_client e(f.endpoint_port(), f.endpoint_ctx());
  ASSERT_TRUE(e.handshake());
  ASSERT_TRUE(e.write_all("GET /v1/rendezvous/" + sid +
                          " HTTP/1.1\r\nhost: a\r\nCONNECTION: keep-alive, UPGRADE\r\nupgrade: h2c, ZoneProxy/1\r\n"
                          "X-Anything: at all\r\n\r\n"));
  auto m = open_half(f.module_server_port(), f.module_server_ctx(), sid);
  ASSERT_TRUE(m);
  EXPECT_TRUE(read_101(e));
  EXPECT_TRUE(read_101(*m));
}

TEST_F(Rendezvous, SecondHalfOfTheSameRoleIs409AndTheFirstKeepsWaiting) {
  data_plane_fixture f;
  const std::string sid = id();
  auto first = open_half(f.endpoint_port(), f.endpoint_ctx(), sid);
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::endpoint) == 1; }));
  auto second = open_half(f.endpoint_port(), f.endpoint_ctx(), sid);
  ASSERT_TRUE(first && second);
  expect_error(*second, 409, "session_conflict");
  auto m = open_half(f.module_server_port(), f.module_server_ctx(), sid);
  ASSERT_TRUE(m);
  EXPECT_TRUE(read_101(*first));
  EXPECT_TRUE(read_101(*m));
}

TEST_F(Rendezvous, PerSourcePendingLimitIs429OnTheEndpointPortOnly) {
  data_plane_options o;
  o.settings.max_pending_per_source = 2;
  data_plane_fixture f(o);
  auto a = open_half(f.endpoint_port(), f.endpoint_ctx(), id());
  auto b = open_half(f.endpoint_port(), f.endpoint_ctx(), id());
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::endpoint) == 2; }));
  auto c = open_half(f.endpoint_port(), f.endpoint_ctx(), id());
  ASSERT_TRUE(c);
  expect_error(*c, 429, "too_many_pending");
  // The Module Server port has no per-source limit.
  auto m1 = open_half(f.module_server_port(), f.module_server_ctx(), id());
  auto m2 = open_half(f.module_server_port(), f.module_server_ctx(), id());
  auto m3 = open_half(f.module_server_port(), f.module_server_ctx(), id());
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::module_server) == 3; }));
  // A slot comes back when a waiting half leaves.
  a.reset();
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::endpoint) == 1; }));
  auto d = open_half(f.endpoint_port(), f.endpoint_ctx(), id());
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::endpoint) == 2; }));
}

TEST_F(Rendezvous, MaxPendingIs503AndTheRefusedHalfsPeerKeepsWaiting) {
  data_plane_options o;
  o.settings.max_pending = 2;
  data_plane_fixture f(o);
  const std::string sid = id();
  auto peer = open_half(f.module_server_port(), f.module_server_ctx(), sid);
  auto other = open_half(f.module_server_port(), f.module_server_ctx(), id());
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::module_server) == 2; }));
  // Full: even the half whose peer is waiting is refused (PROTOCOL.md 3.4).
  auto refused = open_half(f.endpoint_port(), f.endpoint_ctx(), sid);
  ASSERT_TRUE(refused);
  expect_error(*refused, 503, "unavailable");
  EXPECT_EQ(f.plane().waiting(proxy::role::module_server), 2u);
  other.reset();  // room again
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::module_server) == 1; }));
  auto e = open_half(f.endpoint_port(), f.endpoint_ctx(), sid);
  ASSERT_TRUE(e);
  EXPECT_TRUE(read_101(*peer));
  EXPECT_TRUE(read_101(*e));
}

TEST_F(Rendezvous, MaxSessionsIs503WhileThatManyAreLive) {
  data_plane_options o;
  o.settings.max_sessions = 1;
  data_plane_fixture f(o);
  const std::string sid = id();
  auto e = open_half(f.endpoint_port(), f.endpoint_ctx(), sid);
  auto m = open_half(f.module_server_port(), f.module_server_ctx(), sid);
  ASSERT_TRUE(e && m);
  ASSERT_TRUE(read_101(*e) && read_101(*m));
  auto refused = open_half(f.endpoint_port(), f.endpoint_ctx(), id());
  ASSERT_TRUE(refused);
  expect_error(*refused, 503, "unavailable");
}

TEST_F(Rendezvous, SessionsAreSpreadEvenlyOverTheWorkersAndRelay) {
  // The kernel hands each half to a worker's listener by a hash of its address, and a
  // session stays on the worker it starts on: left to the hash, 12 sessions would come
  // out 4/4/4 over 3 workers about once in 15 runs. With 3 workers a pair often meets on
  // one worker while another is emptier, so both halves move.
  data_plane_options o;
  o.workers = 3;
  data_plane_fixture f(o);
  std::vector<paired_halves> sessions;
  for (std::uint64_t n = 1; n <= 12; ++n) {
    sessions.push_back(
        open_paired(f.endpoint_port(), f.endpoint_ctx(), f.module_server_port(), f.module_server_ctx(), rng_, "early"));
    ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().live_sessions() == n; }));
  }
  const proxy::plane_stats s = f.plane().stats();
  ASSERT_EQ(s.workers.size(), 3u);
  for (const auto& w : s.workers) EXPECT_EQ(w.live_sessions, 4u) << "worker " << w.index;
  EXPECT_GT(f.total(proxy::counter::sessions_migrated), 0u);
  for (auto& p : sessions) {
    ASSERT_TRUE(p.e && p.m);
    // The endpoint's early data arrives behind the 101, then both directions relay.
    EXPECT_EQ(read_exactly(*p.m, 5), "early");
    auto r = exchange(*p.e, *p.m, "to the module server", "to the endpoint");
    ASSERT_TRUE(r.ok) << r.error;
    EXPECT_EQ(r.b_received_sha256, sha256_hex("to the module server"));
    EXPECT_EQ(r.a_received_sha256, sha256_hex("to the endpoint"));
  }
}

TEST_F(Rendezvous, NoPeerWithinPairTimeoutIs504) {
  data_plane_options o;
  o.settings.pair_timeout = 1s;
  data_plane_fixture f(o);
  auto e = open_half(f.endpoint_port(), f.endpoint_ctx(), id());
  ASSERT_TRUE(e);
  expect_error(*e, 504, "peer_timeout");
  EXPECT_EQ(f.plane().waiting(proxy::role::endpoint), 0u);
}

TEST_F(Rendezvous, IncompleteHelloWithinHelloTimeoutIs408) {
  data_plane_options o;
  o.settings.hello_timeout = 1s;
  data_plane_fixture f(o);
  tls_client c(f.endpoint_port(), f.endpoint_ctx());
  ASSERT_TRUE(c.handshake());
  ASSERT_TRUE(c.write_all("GET /v1/rendezvous/"));  // and nothing more
  expect_error(c, 408, "hello_timeout");
}

TEST_F(Rendezvous, StalledHandshakeIsClosedWithinHelloTimeout) {
  data_plane_options o;
  o.settings.hello_timeout = 1s;
  data_plane_fixture f(o);
  tls_client c(f.endpoint_port(), f.endpoint_ctx());  // TCP only, no ClientHello
  ASSERT_TRUE(c.connected());
  char byte;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(::recv(c.fd(), &byte, 1, 0), 0) << "expected the proxy to close the connection";
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
  EXPECT_TRUE(data_plane_fixture::eventually([&] {
    return f.total(proxy::counter::handshake_failures, std::size_t(proxy::role::endpoint),
                   std::size_t(proxy::handshake_failure::timeout)) == 1;
  }));
}

TEST_F(Rendezvous, WaitingHalfThatClosesLeavesTheTableAndTheNextPeerWaits) {
  data_plane_fixture f;
  const std::string sid = id();
  auto e = open_half(f.endpoint_port(), f.endpoint_ctx(), sid);
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::endpoint) == 1; }));
  e.reset();  // closes the TCP connection
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::endpoint) == 0; }));
  auto m = open_half(f.module_server_port(), f.module_server_ctx(), sid);
  ASSERT_TRUE(m);
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::module_server) == 1; }));
  EXPECT_EQ(f.plane().live_sessions(), 0u);
}

TEST_F(Rendezvous, ModuleServerPortRequiresATrustedClientCertificate) {
  data_plane_fixture f;
  tls_client none(f.module_server_port(), f.endpoint_ctx());
  EXPECT_FALSE(none.handshake());
  tls_client wrong_ca(f.module_server_port(), f.endpoint_cert_ctx());
  EXPECT_FALSE(wrong_ca.handshake());
  tls_client good(f.module_server_port(), f.module_server_ctx());
  EXPECT_TRUE(good.handshake()) << good.error();
}

TEST_F(Rendezvous, RevokedModuleServerCertificateIsRefusedInTheHandshake) {
  data_plane_fixture f;
  f.revoke(f.module_server_cert_sha256());
  tls_client c(f.module_server_port(), f.module_server_ctx());
  bool ok = c.handshake() && c.write_all(hello_for(id())) && c.read_some().has_value();
  EXPECT_FALSE(ok) << "a revoked certificate got through";
  EXPECT_TRUE(data_plane_fixture::eventually([&] {
    return f.total(proxy::counter::handshake_failures, std::size_t(proxy::role::module_server),
                   std::size_t(proxy::handshake_failure::revoked_certificate)) == 1;
  }));
}

TEST_F(Rendezvous, EndpointPortRequiresACertificateOnlyWhenAnEndpointCaIsProvisioned) {
  {
    data_plane_fixture f;
    tls_client anonymous(f.endpoint_port(), f.endpoint_ctx());
    EXPECT_TRUE(anonymous.handshake()) << anonymous.error();
  }
  data_plane_options o;
  o.require_endpoint_cert = true;
  data_plane_fixture f(o);
  tls_client anonymous(f.endpoint_port(), f.endpoint_ctx());
  bool ok = anonymous.handshake() && anonymous.write_all(hello_for(id())) && anonymous.read_some().has_value();
  EXPECT_FALSE(ok);
  tls_client with_cert(f.endpoint_port(), f.endpoint_cert_ctx());
  EXPECT_TRUE(with_cert.handshake()) << with_cert.error();
}

TEST_F(Rendezvous, DrainingRefusesNewHellosWith503AndClosesListeners) {
  data_plane_options o;
  o.drain_timeout = 2s;
  data_plane_fixture f(o);
  const std::string sid = id();
  auto e = open_half(f.endpoint_port(), f.endpoint_ctx(), sid);
  auto m = open_half(f.module_server_port(), f.module_server_ctx(), sid);
  ASSERT_TRUE(e && m && read_101(*e) && read_101(*m));
  auto waiting = open_half(f.endpoint_port(), f.endpoint_ctx(), id());
  ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().waiting(proxy::role::endpoint) == 1; }));
  // A half still in its hello when draining starts.
  tls_client late(f.module_server_port(), f.module_server_ctx());
  ASSERT_TRUE(late.handshake());
  asio::io_context timers;
  bool drained = false;
  f.plane().drain(timers, [&] { drained = true; });
  expect_error(*waiting, 503, "unavailable");
  ASSERT_TRUE(late.write_all(hello_for(id())));
  expect_error(late, 503, "unavailable");
  // The same answer as a full proxy, counted apart: a drain is not a capacity problem.
  EXPECT_EQ(f.total(proxy::counter::rejected, std::size_t(proxy::role::endpoint),
                    std::size_t(proxy::reject_reason::draining)) +
                f.total(proxy::counter::rejected, std::size_t(proxy::role::module_server),
                        std::size_t(proxy::reject_reason::draining)),
            2u);
  EXPECT_EQ(f.total(proxy::counter::rejected, std::size_t(proxy::role::endpoint),
                    std::size_t(proxy::reject_reason::unavailable)),
            0u);
  tls_client refused(f.endpoint_port(), f.endpoint_ctx());
  EXPECT_FALSE(refused.connected()) << "the listener should be closed while draining";
  // The live session keeps relaying until the drain timeout.
  ASSERT_TRUE(e->write_all("still here"));
  auto got = m->read_some();
  ASSERT_TRUE(got.has_value());
  EXPECT_EQ(*got, "still here");
  timers.run_for(10s);
  EXPECT_TRUE(drained);
  std::string rest;
  m->read_to_end(rest);
  EXPECT_EQ(f.plane().live_sessions(), 0u);
}

}  // namespace
}  // namespace zp::test
