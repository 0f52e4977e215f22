// The ticket key ring on a clock the test moves: a ticket resumes for two key periods
// and never after, however quiet the server was in between; a ticket opened with the
// previous key is replaced by one sealed with the current key. Real OpenSSL handshakes,
// client and server joined by a memory BIO pair.

#include "common/ticket_keys.hpp"
#include "common/tls_policy.hpp"
#include "tests/support/daemon.hpp"

#include <gtest/gtest.h>
#include <openssl/bio.h>
#include <openssl/ssl.h>

#include <atomic>
#include <thread>
#include <vector>

namespace zp::test {
namespace {

using namespace std::chrono_literals;
using clock_type = ticket_key_ring::clock;

struct outcome {
  bool ok = false;
  bool resumed = false;
  ssl_session_ptr session;
};

outcome handshake(SSL_CTX* server_ctx, SSL_CTX* client_ctx, SSL_SESSION* offer) {
  ssl_ptr server(SSL_new(server_ctx)), client(SSL_new(client_ctx));
  BIO *server_bio = nullptr, *client_bio = nullptr;
  BIO_new_bio_pair(&server_bio, 0, &client_bio, 0);
  SSL_set_bio(server.get(), server_bio, server_bio);
  SSL_set_bio(client.get(), client_bio, client_bio);
  SSL_set_accept_state(server.get());
  SSL_set_connect_state(client.get());
  if (offer != nullptr) {
    ssl_session_ptr copy(SSL_SESSION_dup(offer));  // see below: the offered object is spared
    SSL_set_session(client.get(), copy.get());
  }
  outcome out;
  for (int round = 0; round < 16 && !out.ok; ++round) {
    const int c = SSL_do_handshake(client.get());
    const int s = SSL_do_handshake(server.get());
    if (c == 1 && s == 1) out.ok = true;
    if ((c != 1 && SSL_get_error(client.get(), c) != SSL_ERROR_WANT_READ) ||
        (s != 1 && SSL_get_error(server.get(), s) != SSL_ERROR_WANT_READ)) {
      ADD_FAILURE() << "handshake: client " << SSL_get_error(client.get(), c) << " server "
                    << SSL_get_error(server.get(), s) << ": " << openssl_error_string();
      break;
    }
  }
  if (out.ok) {
    out.resumed = SSL_session_reused(client.get()) == 1;
    // A copy: freeing a connection without close_notify marks its own session object
    // unresumable, which would poison a shared one.
    out.session.reset(SSL_SESSION_dup(SSL_get0_session(client.get())));
  }
  return out;
}

class TicketKeys : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ring = ticket_key_ring::create(k_period, [this] { return now_; });
    ASSERT_TRUE(ring.ok()) << ring.status();
    auto identity = make_tls_identity(read_text(test_pki() / "ms-client.key"), read_text(test_pki() / "ms-client.crt"));
    ASSERT_TRUE(identity.ok()) << identity.status();
    identity_ = std::move(*identity);
    server_tls_options o;
    o.identities = {&identity_};
    o.tickets = *ring;
    o.session_context = "ticket_keys_test";
    auto server = make_server_ctx(o);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto client = make_client_ctx(nullptr, {});
    ASSERT_TRUE(client.ok());
    client_ = std::move(*client);
  }
  // A full handshake's ticket, issued at the current time.
  ssl_session_ptr ticket() {
    outcome first = handshake(server_.get(), client_.get(), nullptr);
    EXPECT_TRUE(first.ok);
    EXPECT_FALSE(first.resumed);
    return std::move(first.session);
  }
  bool resumes_at(std::chrono::seconds t, SSL_SESSION* offer, ssl_session_ptr* renewed = nullptr) {
    now_ = start_ + t;
    outcome o = handshake(server_.get(), client_.get(), offer);
    EXPECT_TRUE(o.ok) << "at " << t.count() << " s: the handshake failed instead of falling back";
    if (renewed != nullptr) *renewed = std::move(o.session);
    return o.resumed;
  }

  static constexpr std::chrono::seconds k_period{60};
  clock_type::time_point start_ = clock_type::now();
  clock_type::time_point now_ = start_;
  tls_identity identity_;
  ssl_ctx_ptr server_, client_;
};

TEST_F(TicketKeys, ATicketResumesForTwoPeriodsAndNeverAfter) {
  auto t0 = ticket();
  ASSERT_TRUE(t0);
  EXPECT_TRUE(resumes_at(30s, t0.get()));
  EXPECT_TRUE(resumes_at(90s, t0.get())) << "the previous key must still open its tickets";
  EXPECT_TRUE(resumes_at(119s, t0.get()));
  EXPECT_FALSE(resumes_at(120s, t0.get())) << "a ticket two periods old resumed";
  EXPECT_FALSE(resumes_at(121s, t0.get()));
}

TEST_F(TicketKeys, AfterAQuietSpellTheOldKeyIsGoneAtOnce) {
  auto t0 = ticket();
  ASSERT_TRUE(t0);
  // Nothing happens for 150 s: the first handshake after it must not open the old key.
  EXPECT_FALSE(resumes_at(150s, t0.get()));
}

TEST_F(TicketKeys, ATicketOpenedWithThePreviousKeyIsRenewedWithTheCurrentOne) {
  auto t0 = ticket();
  ASSERT_TRUE(t0);
  ssl_session_ptr renewed;
  ASSERT_TRUE(resumes_at(90s, t0.get(), &renewed));  // key 1 made at 90 s: t0 is from key 0
  ASSERT_TRUE(renewed);
  EXPECT_FALSE(resumes_at(170s, t0.get())) << "key 0 is 170 s old";
  EXPECT_TRUE(resumes_at(170s, renewed.get())) << "the renewed ticket (key 1, 80 s old) did not resume";
}

// Every worker's handshakes share one ring: sealing and opening from several threads at
// once (run under TSan in CI).
TEST_F(TicketKeys, HandshakesOnSeveralThreadsShareOneRing) {
  auto t0 = ticket();
  ASSERT_TRUE(t0);
  constexpr int k_threads = 4, k_each = 25;
  std::atomic<int> resumed{0}, full{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < k_each; ++i) {
        outcome o = handshake(server_.get(), client_.get(), i % 2 == 0 ? t0.get() : nullptr);
        if (o.ok && o.resumed) ++resumed;
        if (o.ok && !o.resumed) ++full;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(resumed.load(), k_threads * ((k_each + 1) / 2));
  EXPECT_EQ(full.load(), k_threads * (k_each / 2));
}

}  // namespace
}  // namespace zp::test
