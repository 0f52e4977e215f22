#pragma once
// Two tls_sockets that talk to each other over loopback TCP on one io_context, the
// handshake done: for tests of tls_socket itself and of what rides on it.

#include "common/openssl_ptr.hpp"
#include "common/tls_policy.hpp"
#include "common/tls_socket.hpp"

#include <gtest/gtest.h>
#include <asio/io_context.hpp>

#include <chrono>
#include <optional>

namespace zp::test {

/// Runs `io` until `done()` is true or `limit` passed (a gtest failure then). `done` may
/// read: it is called once per turn.
template <typename Done>
void run_until(asio::io_context& io, Done done, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  bool finished = done();
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(5));
    finished = done();
  }
  ASSERT_TRUE(finished) << "timed out";
}

class tls_pair {
 public:
  /// Connects a client (offering only `cipher` if given) to a server that shows
  /// `identity`, on 127.0.0.1, and runs both handshakes (gtest failures otherwise).
  void connect(tls_identity identity, const char* cipher = nullptr);

  asio::io_context io;
  std::optional<tls_socket> client, server;

 private:
  tls_identity identity_;
  ssl_ctx_ptr server_ctx_, client_ctx_;
};

}  // namespace zp::test
