// PROTOCOL.md section 2 from outside the process: a real daemon, real clients that
// offer exactly one version or suite, and the server's refusal observed as its alert.

#include "tests/support/daemon.hpp"
#include "tests/support/tls_client.hpp"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

namespace zp::test {
namespace {

class TlsPolicy : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    proxy_ = new daemon();
    ASSERT_TRUE(proxy_->wait_ready()) << proxy_->proc().output();
  }
  static void TearDownTestSuite() {
    EXPECT_EQ(proxy_->stop(), 0);
    delete proxy_;
  }
  static std::uint16_t port() { return proxy_->provisioning_port(); }
  static daemon* proxy_;
};
daemon* TlsPolicy::proxy_ = nullptr;

TEST_F(TlsPolicy, EachAllowedSuiteNegotiatesWithTheMatchingCertificate) {
  const std::pair<const char*, const char*> suites[] = {
      {"ECDHE-RSA-AES256-GCM-SHA384", "RSA"},
      {"ECDHE-RSA-AES128-GCM-SHA256", "RSA"},
      {"ECDHE-ECDSA-AES256-GCM-SHA384", "EC"},
      {"ECDHE-ECDSA-AES128-GCM-SHA256", "EC"},
  };
  for (auto [suite, key_type] : suites) {
    auto ctx = make_raw_client_ctx(TLS1_2_VERSION, suite);
    tls_client c(port(), ctx.get());
    ASSERT_TRUE(c.handshake()) << suite << ": " << c.error();
    EXPECT_EQ(c.cipher(), suite);
    EXPECT_EQ(SSL_version(c.ssl()), TLS1_2_VERSION);
    X509* cert = SSL_get0_peer_certificate(c.ssl());
    ASSERT_NE(cert, nullptr);
    EXPECT_TRUE(EVP_PKEY_is_a(X509_get0_pubkey(cert), key_type)) << suite;
  }
}

TEST_F(TlsPolicy, DisallowedSuitesAreRefusedByTheServer) {
  const char* refused[] = {
      "AES128-SHA",         // static RSA, CBC
      "AES128-GCM-SHA256",  // static RSA key exchange
      "AES256-GCM-SHA384",
      "ECDHE-RSA-AES128-SHA",  // CBC
      "ECDHE-RSA-AES256-SHA384",
      "ECDHE-ECDSA-AES128-SHA256",
      "ECDHE-RSA-CHACHA20-POLY1305",
      "ECDHE-ECDSA-CHACHA20-POLY1305",
      "DHE-RSA-AES128-GCM-SHA256",  // finite-field DHE
      "DHE-RSA-AES256-GCM-SHA384",
      "ECDHE-ECDSA-AES128-CCM",
  };
  for (const char* suite : refused) {
    auto ctx = make_raw_client_ctx(TLS1_2_VERSION, suite);
    ASSERT_GT(sk_SSL_CIPHER_num(SSL_CTX_get_ciphers(ctx.get())), 0) << "client could not offer " << suite;
    tls_client c(port(), ctx.get());
    EXPECT_FALSE(c.handshake()) << suite << " was negotiated";
    EXPECT_EQ(c.error_reason(), SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE) << suite << ": " << c.error();
  }
}

TEST_F(TlsPolicy, OtherProtocolVersionsAreRefusedByTheServer) {
  const std::pair<int, const char*> versions[] = {
      {TLS1_VERSION, "DEFAULT:@SECLEVEL=0"},
      {TLS1_1_VERSION, "DEFAULT:@SECLEVEL=0"},
      {TLS1_3_VERSION, "TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256"},
  };
  for (auto [version, ciphers] : versions) {
    auto ctx = make_raw_client_ctx(version, ciphers);
    tls_client c(port(), ctx.get());
    EXPECT_FALSE(c.handshake()) << "version " << version << " was negotiated";
    EXPECT_EQ(c.error_reason(), SSL_R_TLSV1_ALERT_PROTOCOL_VERSION) << "version " << version << ": " << c.error();
  }
}

TEST_F(TlsPolicy, OnlyX25519P256AndP384AreAccepted) {
  // An RSA suite, because in TLS 1.2 the client's groups also bound the curve of an
  // ECDSA server certificate (P-256 here), which would mix two questions into one.
  for (const char* group : {"X25519", "P-256", "P-384"}) {
    auto ctx = make_raw_client_ctx(TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256");
    ASSERT_EQ(SSL_CTX_set1_groups_list(ctx.get(), group), 1);
    tls_client c(port(), ctx.get());
    EXPECT_TRUE(c.handshake()) << group << ": " << c.error();
  }
  for (const char* group : {"P-521", "X448"}) {
    auto ctx = make_raw_client_ctx(TLS1_2_VERSION, "ECDHE-RSA-AES128-GCM-SHA256");
    ASSERT_EQ(SSL_CTX_set1_groups_list(ctx.get(), group), 1);
    tls_client c(port(), ctx.get());
    EXPECT_FALSE(c.handshake()) << group << " was accepted";
    EXPECT_EQ(c.error_reason(), SSL_R_SSLV3_ALERT_HANDSHAKE_FAILURE) << group << ": " << c.error();
  }
}

TEST_F(TlsPolicy, ClientInitiatedRenegotiationIsRefused) {
  auto ctx = make_raw_client_ctx(TLS1_2_VERSION, "ECDHE-ECDSA-AES128-GCM-SHA256");
  tls_client c(port(), ctx.get());
  ASSERT_TRUE(c.handshake()) << c.error();
  ASSERT_EQ(SSL_renegotiate(c.ssl()), 1);
  EXPECT_NE(SSL_do_handshake(c.ssl()), 1) << "the server accepted a renegotiation";
}

}  // namespace
}  // namespace zp::test
