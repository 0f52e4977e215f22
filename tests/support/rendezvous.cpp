#include "tests/support/rendezvous.hpp"

#include "common/fingerprint.hpp"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>

#include <gtest/gtest.h>

namespace zp::test {

std::string hello_for(std::string_view id) {
  return "GET /v1/rendezvous/" + std::string(id) +
         " HTTP/1.1\r\nHost: zoneproxy.test\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n";
}

std::string random_session_id(std::mt19937_64& rng) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string id(32, '0');
  for (char& c : id) c = kHex[rng() % 16];
  return id;
}

std::unique_ptr<tls_client> open_half(std::uint16_t port, SSL_CTX* ctx, std::string_view id, std::string_view early) {
  auto c = std::make_unique<tls_client>(port, ctx);
  if (!c->handshake()) {
    ADD_FAILURE() << "handshake failed: " << c->error();
    return nullptr;
  }
  if (!c->write_all(hello_for(id) + std::string(early))) {
    ADD_FAILURE() << "hello write failed: " << c->error();
    return nullptr;
  }
  return c;
}

bool read_101(tls_client& c) {
  std::string got;
  while (got.size() < k_101.size()) {
    auto chunk = c.read_some(k_101.size() - got.size());
    if (!chunk || chunk->empty()) return false;
    got += *chunk;
  }
  return got == k_101;
}

std::string sha256_hex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return to_hex(md, len);
}

namespace {

// One side of the exchange, driven by readiness.
struct side {
  tls_client* c;
  std::string_view out;
  std::size_t sent = 0;
  bool shut = false;  // close_notify + FIN sent
  bool peer_ended = false;
  EVP_MD_CTX* hash = EVP_MD_CTX_new();
  std::size_t received = 0;
  std::string error;

  side(tls_client* client, std::string_view payload) : c(client), out(payload) {
    EVP_DigestInit_ex(hash, EVP_sha256(), nullptr);
    ::fcntl(c->fd(), F_SETFL, ::fcntl(c->fd(), F_GETFL) | O_NONBLOCK);
    // Bytes the 101 read may already have pulled in.
    if (auto early = c->take_buffered(); !early.empty()) absorb(early.data(), early.size());
  }
  ~side() { EVP_MD_CTX_free(hash); }
  void absorb(const char* data, std::size_t n) {
    EVP_DigestUpdate(hash, data, n);
    received += n;
  }
  bool done() const { return shut && peer_ended; }
  // Returns false on a hard error.
  bool step(short& events) {
    events = 0;
    SSL* ssl = c->ssl();
    while (sent < out.size()) {
      ERR_clear_error();
      std::size_t n = 0;
      int r = SSL_write_ex(ssl, out.data() + sent, std::min<std::size_t>(out.size() - sent, 64 * 1024), &n);
      if (r == 1) {
        sent += n;
        continue;
      }
      int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_WRITE) {
        events |= POLLOUT;
        break;
      }
      if (e == SSL_ERROR_WANT_READ) {
        events |= POLLIN;
        break;
      }
      error = "write failed: " + std::to_string(e);
      return false;
    }
    if (sent == out.size() && !shut) {
      ERR_clear_error();
      int r = SSL_shutdown(ssl);
      if (r < 0 && SSL_get_error(ssl, r) == SSL_ERROR_WANT_WRITE) {
        events |= POLLOUT;
      } else {
        ::shutdown(c->fd(), SHUT_WR);
        shut = true;
      }
    }
    char buf[64 * 1024];
    while (!peer_ended) {
      ERR_clear_error();
      std::size_t n = 0;
      int r = SSL_read_ex(ssl, buf, sizeof buf, &n);
      if (r == 1) {
        absorb(buf, n);
        continue;
      }
      int e = SSL_get_error(ssl, r);
      if (e == SSL_ERROR_WANT_READ) {
        events |= POLLIN;
        break;
      }
      if (e == SSL_ERROR_ZERO_RETURN) {
        peer_ended = true;
        break;
      }
      error = "read failed: ssl error " + std::to_string(e) + " " +
              (ERR_peek_error() ? ERR_reason_error_string(ERR_peek_error()) : "(syscall)");
      return false;
    }
    return true;
  }
  std::string digest() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    EVP_DigestFinal_ex(hash, md, &len);
    return to_hex(md, len);
  }
};

}  // namespace

exchange_result exchange(tls_client& a, tls_client& b, std::string_view a_to_b, std::string_view b_to_a,
                         std::chrono::seconds timeout) {
  exchange_result res;
  side sa(&a, a_to_b), sb(&b, b_to_a);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!(sa.done() && sb.done())) {
    if (std::chrono::steady_clock::now() > deadline) {
      res.error = "timeout";
      break;
    }
    pollfd fds[2] = {{a.fd(), 0, 0}, {b.fd(), 0, 0}};
    if (!sa.step(fds[0].events)) {
      res.error = "a: " + sa.error;
      break;
    }
    if (!sb.step(fds[1].events)) {
      res.error = "b: " + sb.error;
      break;
    }
    if (sa.done() && sb.done()) break;
    ::poll(fds, 2, 100);
  }
  res.ok = res.error.empty();
  res.a_received = sa.received;
  res.b_received = sb.received;
  res.a_received_sha256 = sa.digest();
  res.b_received_sha256 = sb.digest();
  return res;
}

paired_halves open_paired(std::uint16_t endpoint_port, SSL_CTX* endpoint_ctx, std::uint16_t module_server_port,
                          SSL_CTX* module_server_ctx, std::mt19937_64& rng, std::string_view early) {
  const std::string sid = random_session_id(rng);
  paired_halves p;
  p.e = open_half(endpoint_port, endpoint_ctx, sid, early);
  p.m = open_half(module_server_port, module_server_ctx, sid);
  EXPECT_TRUE(p.e && p.m);
  if (p.e && p.m) {
    EXPECT_TRUE(read_101(*p.e));
    EXPECT_TRUE(read_101(*p.m));
  }
  return p;
}

std::string read_exactly(tls_client& c, std::size_t n) {
  std::string out;
  while (out.size() < n) {
    auto chunk = c.read_some(n - out.size());
    if (!chunk || chunk->empty()) break;
    out += *chunk;
  }
  return out;
}

std::string suite_test_name(std::string_view suite) {
  std::string n(suite);
  std::erase(n, '-');
  return n;
}

}  // namespace zp::test
