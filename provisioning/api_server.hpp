#pragma once
// The HTTPS control API listener on 17488 (PROTOCOL.md 4): TLS with the section-2
// policy, HTTP/1.1 keep-alive, bounded heads and bodies, a deadline on every phase.
//
// Runs on the control thread's io_context, not on a data-plane worker: provisioning
// writes the state directory with fsync, and that must never stall relaying.
// Owner: the daemon owns the api_server; the server owns its acceptor; each
// api_connection is kept alive by the handlers of its pending operations (asio's
// shared_from_this idiom) and closed by stop().

#include "provisioning/api_types.hpp"

#include <absl/status/statusor.h>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>

#include <openssl/ssl.h>

namespace zp::provisioning {

class api_connection;

/// Bounds of the control API; see the comments for why each is what it is.
struct api_limits {
  std::size_t max_head = 16 * 1024;    // our clients send short heads
  std::size_t max_body = 1024 * 1024;  // PROTOCOL.md 4: larger bodies get 413
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds request_timeout{30};  // from first byte to complete request
  std::chrono::seconds idle_timeout{60};     // keep-alive wait between requests
  std::size_t max_connections = 256;         // each costs a TLS session and buffers
};

class api_server {
 public:
  /// Supplies the SSL_CTX for a new connection (it changes on provisioning and
  /// certificate rotation; SSL_new keeps its own reference, so the pointer only needs
  /// to live until the call returns).
  using ctx_provider = std::function<std::shared_ptr<SSL_CTX>()>;

  api_server(asio::io_context& io, ctx_provider ctx, api_handler handler, api_limits limits = {});
  ~api_server();

  /// Binds and listens; answers the bound endpoint (port 0 picks one).
  absl::StatusOr<asio::ip::tcp::endpoint> listen(const asio::ip::tcp::endpoint& at);
  /// Closes the listener and every open connection.
  void stop();

  /// Handler and limits, shared with connections so none of them points back here.
  struct shared;

 private:
  void do_accept();
  void on_accept(std::error_code ec, asio::ip::tcp::socket socket);

  ctx_provider ctx_;
  std::shared_ptr<const shared> shared_;
  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer accept_backoff_;
  // Weak references so stop() can close live connections; expired ones are pruned on
  // accept, so the vector never holds more than max_connections live entries.
  std::vector<std::weak_ptr<api_connection>> connections_;
  bool stopped_ = false;
};

}  // namespace zp::provisioning
