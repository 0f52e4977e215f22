// PUT /v1/trust/cas (PROTOCOL.md 1.1, 4.2): the Module Server CA set and the observer CA
// set are replaced without deprovisioning; the caller cannot lock itself out (409
// would_lock_out, nothing changed); what no longer chains loses its sessions and its
// 17488 connections; the history records it.

#include "common/pem.hpp"
#include "common/tls_policy.hpp"
#include "tests/support/control_client.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace zp::test {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

class TrustCas : public ::testing::Test {
 protected:
  void SetUp() override {
    // A second Module Server CA with its own client, as a CA rotation would bring.
    const std::string script = "set -e; cd '" + pki_.path().string() + "'\n" + R"(
openssl ecparam -name prime256v1 -genkey -noout -out new-ca.key 2>/dev/null
openssl req -new -x509 -key new-ca.key -subj "/CN=zoneproxy test new Module Server CA" -days 30 \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out new-ca.crt
openssl ecparam -name prime256v1 -genkey -noout -out new-client.key 2>/dev/null
openssl req -new -key new-client.key -subj "/CN=zoneproxy test new Module Server client" -out new-client.csr
openssl x509 -req -in new-client.csr -CA new-ca.crt -CAkey new-ca.key -CAcreateserial -days 30 \
  -extfile <(printf 'extendedKeyUsage=clientAuth\n') -out new-client.crt 2>/dev/null
chmod 600 *.key)";
    auto made = run({"/bin/bash", "-c", script});
    ASSERT_EQ(made.status, 0) << made.output;
    ASSERT_TRUE(d_.wait_ready());
    auto ports = provision(d_);
    ASSERT_TRUE(ports);
    ports_ = *ports;
    auto id = make_tls_identity(read_text(pki_.path() / "new-client.key"), read_text(pki_.path() / "new-client.crt"));
    ASSERT_TRUE(id.ok());
    new_client_ = std::move(*make_client_ctx(&*id, {}));
  }
  void TearDown() override { EXPECT_EQ(d_.stop(), 0); }

  std::optional<http_reply> put(SSL_CTX* as, const json& body) {
    return api_call(d_.provisioning_port(), as, "PUT", "/v1/trust/cas", body.dump());
  }
  std::string pem(const std::string& name) { return read_text(pki_.path() / name); }

  temp_dir pki_;
  daemon d_;
  std::pair<std::uint16_t, std::uint16_t> ports_;
  ssl_ctx_ptr old_client_ = module_server_ctx();
  ssl_ctx_ptr new_client_;
};

TEST_F(TrustCas, ACallerThatWouldLockItselfOutIsRefusedAndNothingChanges) {
  auto r = put(old_client_.get(), {{"module_server_ca", pem("new-ca.crt")}});
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 409) << r->body;
  EXPECT_EQ(json::parse(r->body)["error"]["code"], "would_lock_out");
  EXPECT_TRUE(api_call(d_.provisioning_port(), old_client_.get(), "GET", "/v1/status").has_value());
  EXPECT_FALSE(api_call(d_.provisioning_port(), new_client_.get(), "GET", "/v1/status").has_value());
}

TEST_F(TrustCas, RotatingTheModuleServerCaClosesWhatNoLongerChains) {
  // Step 1: old and new CA together; both clients get in.
  auto both = put(old_client_.get(), {{"module_server_ca", read_text(test_pki() / "ms-ca.crt") + pem("new-ca.crt")}});
  ASSERT_TRUE(both && both->status == 200) << (both ? both->body : "no answer");
  ASSERT_TRUE(api_call(d_.provisioning_port(), new_client_.get(), "GET", "/v1/status").has_value());
  // A live session and an idle 17488 connection of the old client.
  std::mt19937_64 rng{5};
  const std::string sid = random_session_id(rng);
  auto ep = make_client_ctx(nullptr, {});
  auto e = open_half(ports_.first, ep->get(), sid);
  auto m = open_half(ports_.second, old_client_.get(), sid);
  ASSERT_TRUE(e && m && read_101(*e) && read_101(*m));
  tls_client idle(d_.provisioning_port(), old_client_.get());
  ASSERT_TRUE(idle.handshake() && idle.request("GET", "/v1/status"));
  // Step 2: the new CA alone, asked by the new client.
  auto only_new = put(new_client_.get(), {{"module_server_ca", pem("new-ca.crt")}});
  ASSERT_TRUE(only_new && only_new->status == 200) << (only_new ? only_new->body : "no answer");
  EXPECT_TRUE(closed_within(idle.fd(), 2s)) << "the old client's 17488 connection stayed open";
  std::string rest;
  e->read_to_end(rest);
  EXPECT_TRUE(closed_within(m->fd(), 2s)) << "the old client's live session stayed open";
  // The session log says why (README "Session log").
  EXPECT_TRUE(d_.proc().wait_for_output("event=session_ended session=" + sid.substr(0, 8) + " ", 5s))
      << d_.proc().output();
  const std::string log = d_.proc().output();
  const std::string line = log.substr(log.find("event=session_ended session=" + sid.substr(0, 8)));
  EXPECT_NE(line.substr(0, line.find('\n')).find("termination=proxy_ca_replaced reason=ca_replaced"), std::string::npos)
      << line.substr(0, line.find('\n'));
  EXPECT_FALSE(api_call(d_.provisioning_port(), old_client_.get(), "GET", "/v1/status").has_value());
  auto trust = json::parse(api_call(d_.provisioning_port(), new_client_.get(), "GET", "/v1/trust")->body);
  bool untrusted = false;
  for (const auto& h : trust["history"])
    untrusted |= h["action"] == "untrusted" && h["fingerprint"] == pki_cert_sha256("ms-ca");
  EXPECT_TRUE(untrusted) << trust.dump();
  // A new session of the new client pairs.
  const std::string sid2 = random_session_id(rng);
  auto e2 = open_half(ports_.first, ep->get(), sid2);
  auto m2 = open_half(ports_.second, new_client_.get(), sid2);
  EXPECT_TRUE(e2 && m2 && read_101(*e2) && read_101(*m2));
}

TEST_F(TrustCas, TheObserverCaCanBeAddedAndRemoved) {
  auto observer = module_server_ctx("observer-client");
  EXPECT_FALSE(api_call(d_.provisioning_port(), observer.get(), "GET", "/v1/status").has_value());
  auto added = put(old_client_.get(), {{"observer_ca", read_text(test_pki() / "observer-ca.crt")}});
  ASSERT_TRUE(added && added->status == 200) << (added ? added->body : "no answer");
  auto read = api_call(d_.provisioning_port(), observer.get(), "GET", "/v1/status");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->status, 200);
  auto removed = put(old_client_.get(), {{"observer_ca", nullptr}});
  ASSERT_TRUE(removed && removed->status == 200);
  EXPECT_FALSE(api_call(d_.provisioning_port(), observer.get(), "GET", "/v1/status").has_value());
  auto bad = put(old_client_.get(), {{"observer_ca", 7}});
  ASSERT_TRUE(bad);
  EXPECT_EQ(bad->status, 400);
}

}  // namespace
}  // namespace zp::test
