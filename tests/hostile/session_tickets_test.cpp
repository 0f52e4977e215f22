// PROTOCOL.md 2 (version 1.2): session tickets on all three ports, with a real client
// that offers the ticket it got. A resumed handshake is judged like a full one: a
// revoked certificate, a certificate no longer trusted, an observer on the Module Server
// port get nothing more by resuming; and no ticket outlives its two key periods, a change
// of trust, or a restart.

#include "tests/hostile/hostile.hpp"

#include "common/pem.hpp"

#include <gtest/gtest.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include <ctime>
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

// A P-256 certificate for a new key, valid from an hour ago until `until`, issued by
// `issuer` (self-signed when null): a client certificate, or a CA without a path length
// limit (the test PKI's CAs allow no intermediate below them).
struct issued {
  evp_pkey_ptr key;
  x509_ptr cert;
};
issued issue(const std::string& cn, std::time_t until, const issued* issuer, bool ca = false) {
  issued out;
  out.key.reset(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  out.cert.reset(X509_new());
  X509* x = out.cert.get();
  X509_set_version(x, 2);
  ASN1_INTEGER_set(X509_get_serialNumber(x), static_cast<long>(std::random_device{}() & 0x7fffffff));
  X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_UTF8,
                             reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1, 0);
  X509* signer_cert = issuer ? issuer->cert.get() : x;
  X509_set_issuer_name(x, X509_get_subject_name(signer_cert));
  X509_gmtime_adj(X509_getm_notBefore(x), -3600);
  ASN1_TIME_set(X509_getm_notAfter(x), until);
  X509_set_pubkey(x, out.key.get());
  X509V3_CTX v3;
  X509V3_set_ctx_nodb(&v3);
  X509V3_set_ctx(&v3, signer_cert, x, nullptr, nullptr, 0);
  const std::pair<int, const char*> exts[] = {
      {NID_basic_constraints, ca ? "critical,CA:TRUE" : "CA:FALSE"},
      {ca ? NID_key_usage : NID_ext_key_usage, ca ? "critical,keyCertSign,cRLSign" : "clientAuth"}};
  for (const auto& [nid, value] : exts) {
    X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &v3, nid, value);
    X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
  }
  X509_sign(x, issuer ? issuer->key.get() : out.key.get(), EVP_sha256());
  return out;
}

// The test PKI's Module Server CA, which the provisioned daemon trusts.
issued module_server_ca() {
  issued ca;
  ca.key = std::move(*parse_private_key_pem(read_text(test_pki() / "ms-ca.key")));
  ca.cert = std::move(parse_certificates_pem(read_text(test_pki() / "ms-ca.crt"))->front());
  return ca;
}

std::string pem_of(X509* cert) {
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), BIO_free);
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(n));
}

// A client context presenting `leaf` and, after it, the chain `more` (intermediates).
ssl_ctx_ptr client_with(const issued& leaf, std::vector<const issued*> more = {}) {
  tls_identity id;
  EVP_PKEY_up_ref(leaf.key.get());
  id.key.reset(leaf.key.get());
  X509_up_ref(leaf.cert.get());
  id.chain.emplace_back(leaf.cert.get());
  for (const issued* c : more) {
    X509_up_ref(c->cert.get());
    id.chain.emplace_back(c->cert.get());
  }
  auto ctx = make_client_ctx(&id, {});
  EXPECT_TRUE(ctx.ok()) << ctx.status();
  return ctx.ok() ? std::move(*ctx) : nullptr;
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

// A resumed handshake checks the validity the full handshake saw (sealed in the ticket)
// against the clock: a certificate that expired since keeps nothing.
TEST(SessionTickets, ACertificateThatExpiredSinceItsTicketWasIssuedDoesNotResume) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  const std::time_t expiry = std::time(nullptr) + 3;
  const issued ca = module_server_ca();
  issued leaf = issue("module server for three seconds", expiry, &ca);
  auto ctx = client_with(leaf);
  ASSERT_TRUE(ctx);
  auto ms_ticket = ticket_from(p.module_server_port(), ctx.get());
  auto api_ticket = ticket_from(p.api_port(), ctx.get());
  ASSERT_TRUE(ms_ticket && api_ticket);
  attempt young = handshake(p.module_server_port(), ctx.get(), ms_ticket.get());
  EXPECT_TRUE(young.ok && young.resumed) << "a valid certificate's ticket did not resume: " << young.error;
  while (std::time(nullptr) <= expiry + 1) std::this_thread::sleep_for(200ms);
  for (auto [port, ticket] :
       {std::pair{p.module_server_port(), ms_ticket.get()}, std::pair{p.api_port(), api_ticket.get()}}) {
    attempt again = handshake(port, ctx.get(), ticket);
    EXPECT_FALSE(again.resumed) << "port " << port << ": an expired certificate resumed";
    EXPECT_FALSE(again.ok) << "port " << port << ": an expired certificate completed a handshake";
  }
}

// The window covers the whole verified chain, so a client whose certificate needs the
// intermediate it sends resumes too (the ticket keeps only the leaf), and an
// intermediate that expires ends its leaf's tickets.
TEST(SessionTickets, ACertificateBehindAnIntermediateResumesUntilTheIntermediateExpires) {
  provisioned_daemon p;
  ASSERT_TRUE(p.ok());
  // A second Module Server CA joins the trusted set, one that allows an intermediate.
  const issued root = issue("zoneproxy test root with intermediates", std::time(nullptr) + 86400, nullptr, true);
  const std::string cas = read_text(test_pki() / "ms-ca.crt") + pem_of(root.cert.get());
  auto put = p.call("PUT", "/v1/trust/cas", nlohmann::json{{"module_server_ca", cas}}.dump());
  ASSERT_TRUE(put.has_value());
  ASSERT_EQ(put->status, 200) << put->body;
  const std::time_t intermediate_expiry = std::time(nullptr) + 3;
  issued intermediate = issue("intermediate for three seconds", intermediate_expiry, &root, /*ca=*/true);
  issued leaf = issue("module server behind an intermediate", std::time(nullptr) + 86400, &intermediate);
  auto ctx = client_with(leaf, {&intermediate});
  ASSERT_TRUE(ctx);
  auto ticket = ticket_from(p.module_server_port(), ctx.get());
  ASSERT_TRUE(ticket);
  attempt young = handshake(p.module_server_port(), ctx.get(), ticket.get());
  EXPECT_TRUE(young.ok && young.resumed) << "a chain through an intermediate did not resume: " << young.error;
  while (std::time(nullptr) <= intermediate_expiry + 1) std::this_thread::sleep_for(200ms);
  attempt old = handshake(p.module_server_port(), ctx.get(), ticket.get());
  EXPECT_FALSE(old.resumed) << "a ticket outlived its chain's intermediate";
  EXPECT_FALSE(old.ok) << "a chain with an expired intermediate completed a handshake";
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
