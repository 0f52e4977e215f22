// PROTOCOL.md 2 (version 1.2): session tickets on all three ports, with a real client
// that offers the ticket it got. A resumed handshake is judged like a full one: a
// revoked certificate, a certificate no longer trusted, an observer on the Module Server
// port get nothing more by resuming; and no ticket outlives its two key periods, a change
// of trust, or a restart.

#include "tests/hostile/hostile.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

namespace zp::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// One handshake, offering `offer` when given.
struct attempt {
  bool ok = false;
  bool resumed = false;
  ssl_session_ptr session;
  std::string error;
};

attempt handshake(std::uint16_t port, SSL_CTX* ctx, SSL_SESSION* offer = nullptr) {
  tls_client c(port, ctx);
  if (offer != nullptr) c.offer_session(offer);
  attempt a;
  a.ok = c.handshake();
  a.error = c.error();
  if (a.ok) {
    a.resumed = c.resumed();
    a.session = c.session();
  }
  return a;
}

// A ticket from a first full handshake, checked to be one.
ssl_session_ptr ticket_from(std::uint16_t port, SSL_CTX* ctx) {
  attempt first = handshake(port, ctx);
  EXPECT_TRUE(first.ok) << first.error;
  EXPECT_FALSE(first.resumed);
  if (!first.session || SSL_SESSION_has_ticket(first.session.get()) != 1) {
    ADD_FAILURE() << "port " << port << " issued no session ticket";
    return nullptr;
  }
  return std::move(first.session);
}

TEST(SessionTickets, EveryPortIssuesTicketsThatResumeAndOnlyOnTheirOwnPort) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  const struct {
    const char* name;
    std::uint16_t port;
    SSL_CTX* ctx;
  } ports[] = {{"17486", p.endpoint_port(), p.endpoint_ctx()},
               {"17487", p.module_server_port(), p.operator_ctx()},
               {"17488", p.api_port(), p.operator_ctx()}};
  for (const auto& port : ports) {
    SCOPED_TRACE(port.name);
    auto ticket = ticket_from(port.port, port.ctx);
    ASSERT_TRUE(ticket);
    attempt again = handshake(port.port, port.ctx, ticket.get());
    ASSERT_TRUE(again.ok) << again.error;
    EXPECT_TRUE(again.resumed) << "a fresh ticket did not resume";
  }
  // 17488's ticket offered on 17487 (same certificate, same CA): a full handshake there.
  auto api_ticket = ticket_from(p.api_port(), p.operator_ctx());
  attempt elsewhere = handshake(p.module_server_port(), p.operator_ctx(), api_ticket.get());
  ASSERT_TRUE(elsewhere.ok) << elsewhere.error;
  EXPECT_FALSE(elsewhere.resumed) << "a ticket resumed on a port that did not issue it";
}

TEST(SessionTickets, ARevokedCertificatesTicketDoesNotResumeOn17487Or17488) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  auto ms_ticket = ticket_from(p.module_server_port(), p.operator_ctx());
  auto api_ticket = ticket_from(p.api_port(), p.operator_ctx());
  auto other = module_server_ctx("ms-client2");
  auto other_ticket = ticket_from(p.module_server_port(), other.get());
  ASSERT_TRUE(ms_ticket && api_ticket && other_ticket);

  auto r = api_call(p.api_port(), other.get(), "POST", "/v1/trust/revoke",
                    nlohmann::json{{"fingerprint", pki_cert_sha256("ms-client")}}.dump());
  ASSERT_TRUE(r.has_value());
  ASSERT_EQ(r->status, 200) << r->body;

  for (auto [port, ticket] :
       {std::pair{p.module_server_port(), ms_ticket.get()}, std::pair{p.api_port(), api_ticket.get()}}) {
    attempt again = handshake(port, p.operator_ctx(), ticket);
    EXPECT_FALSE(again.resumed) << "port " << port << ": a revoked certificate resumed";
    EXPECT_FALSE(again.ok) << "port " << port << ": a revoked certificate completed a handshake";
  }
  // The certificate that was not revoked still resumes.
  attempt kept = handshake(p.module_server_port(), other.get(), other_ticket.get());
  EXPECT_TRUE(kept.ok && kept.resumed) << kept.error;
}

TEST(SessionTickets, ATicketFromBeforeACaReplacementDoesNotResume) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  auto ms_ticket = ticket_from(p.module_server_port(), p.operator_ctx());
  auto api_ticket = ticket_from(p.api_port(), p.operator_ctx());
  ASSERT_TRUE(ms_ticket && api_ticket);
  // The Module Server CA stays (so ms-client is still trusted) and a second one joins.
  const std::string cas = read_text(test_pki() / "ms-ca.crt") + read_text(test_pki() / "endpoint-ca.crt");
  auto put = p.call("PUT", "/v1/trust/cas", nlohmann::json{{"module_server_ca", cas}}.dump());
  ASSERT_TRUE(put.has_value());
  ASSERT_EQ(put->status, 200) << put->body;
  for (auto [port, ticket] :
       {std::pair{p.module_server_port(), ms_ticket.get()}, std::pair{p.api_port(), api_ticket.get()}}) {
    attempt again = handshake(port, p.operator_ctx(), ticket);
    EXPECT_TRUE(again.ok) << "port " << port << ": " << again.error;
    EXPECT_FALSE(again.resumed) << "port " << port << ": a ticket outlived the change of trust";
  }
}

TEST(SessionTickets, DeprovisioningEndsEveryTicketEvenWhenTheSameTrustReturns) {
  daemon d;
  ASSERT_TRUE(d.wait_ready());
  ASSERT_TRUE(provision(d).has_value());
  auto ms = module_server_ctx();
  auto api_ticket = ticket_from(d.provisioning_port(), ms.get());
  ASSERT_TRUE(api_ticket);
  auto r = ctl(d.provisioning_port(), {"deprovision", "--yes"});
  ASSERT_EQ(r.status, 0) << r.output;
  auto ports = provision(d);  // the same CAs, the same client certificate
  ASSERT_TRUE(ports.has_value());
  attempt again = handshake(d.provisioning_port(), ms.get(), api_ticket.get());
  EXPECT_TRUE(again.ok) << again.error;
  EXPECT_FALSE(again.resumed) << "a ticket from before deprovisioning resumed";
}

TEST(SessionTickets, AnObserverWhoResumesIsStillAnObserverAndNeverEnters17487) {
  daemon d;
  ASSERT_TRUE(d.wait_ready());
  auto ports = provision(d, {"--observer-ca", (test_pki() / "observer-ca.crt").string()});
  ASSERT_TRUE(ports.has_value());
  auto observer = module_server_ctx("observer-client");
  auto ticket = ticket_from(d.provisioning_port(), observer.get());
  ASSERT_TRUE(ticket);
  tls_client c(d.provisioning_port(), observer.get());
  c.offer_session(ticket.get());
  ASSERT_TRUE(c.handshake()) << c.error();
  EXPECT_TRUE(c.resumed());
  auto read = c.request("GET", "/v1/status");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->status, 200) << "an observer lost its read access by resuming";
  tls_client w(d.provisioning_port(), observer.get());
  w.offer_session(ticket.get());
  ASSERT_TRUE(w.handshake()) << w.error();
  auto write =
      w.request("POST", "/v1/trust/revoke", nlohmann::json{{"fingerprint", pki_cert_sha256("ms-client")}}.dump());
  ASSERT_TRUE(write.has_value());
  EXPECT_EQ(write->status, 403) << "a resumed observer changed something: " << write->body;
  attempt on_ms = handshake(ports->second, observer.get(), ticket.get());
  EXPECT_FALSE(on_ms.resumed) << "an observer's ticket resumed on 17487";
  EXPECT_FALSE(on_ms.ok) << "an observer certificate completed a handshake on 17487";
}

TEST(SessionTickets, ATicketOlderThanTwoKeyPeriodsDoesNotResume) {
  temp_dir dir;
  const fs::path config = dir.path() / "zoneproxy.toml";
  std::ofstream(config) << "session_ticket_period_s = 1\n";
  provisioned_daemon p({}, {}, {}, {}, {"--config", config.string()});
  ASSERT_TRUE(p.ok());
  auto ticket = ticket_from(p.module_server_port(), p.operator_ctx());
  ASSERT_TRUE(ticket);
  attempt young = handshake(p.module_server_port(), p.operator_ctx(), ticket.get());
  EXPECT_TRUE(young.ok && young.resumed) << "a ticket younger than one period did not resume: " << young.error;
  std::this_thread::sleep_for(2500ms);  // more than two periods of 1 s
  attempt old = handshake(p.module_server_port(), p.operator_ctx(), ticket.get());
  EXPECT_TRUE(old.ok) << old.error;
  EXPECT_FALSE(old.resumed) << "a ticket older than two key periods resumed";
}

TEST(SessionTickets, ARestartForgetsEveryTicket) {
  temp_dir dir;
  const fs::path state = dir.path() / "state";
  std::uint16_t ms_port = 0;
  ssl_session_ptr ticket;
  auto ms = module_server_ctx();
  {
    daemon d({}, state);
    ASSERT_TRUE(d.wait_ready());
    auto ports = provision(d);
    ASSERT_TRUE(ports.has_value());
    ms_port = ports->second;
    ticket = ticket_from(ms_port, ms.get());
    ASSERT_TRUE(ticket);
    ASSERT_EQ(d.stop(), 0);
  }
  daemon again({}, state);
  ASSERT_TRUE(again.wait_ready());
  ASSERT_TRUE(again.proc().wait_for_output("event=restored state=provisioned"));
  attempt after = handshake(ms_port, ms.get(), ticket.get());
  EXPECT_TRUE(after.ok) << after.error;
  EXPECT_FALSE(after.resumed) << "a ticket survived a restart";
}

}  // namespace
}  // namespace zp::test
