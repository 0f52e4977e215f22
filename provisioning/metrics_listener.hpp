#pragma once
// The local metrics listener (--metrics-listen ADDR:PORT, off by default): plain HTTP,
// GET /metrics only, for a Prometheus on the same host or behind the host's firewall
// that should not hold a certificate able to change anything. Everything else is 404 (or
// 405 for /metrics with another method); one request per connection, bounded in size
// (8 KiB head, no body), time (5 s) and number (16 at once, the oldest closed for a
// newcomer).
//
// Owner: the daemon; runs on the control thread's io_context, like 17488.

#include "common/accept_loop.hpp"

#include <absl/status/statusor.h>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zp::provisioning {

class metrics_connection;

class metrics_listener {
 public:
  /// `render` produces the exposition (control_plane::metrics).
  metrics_listener(asio::io_context& io, std::function<std::string()> render);
  ~metrics_listener();

  /// Binds and listens; answers the bound endpoint (port 0 picks one).
  absl::StatusOr<asio::ip::tcp::endpoint> listen(const asio::ip::tcp::endpoint& at);
  void stop();
  /// Accepts that failed, by reason.
  std::uint64_t accept_errors(accept_error e) const { return accept_.errors(e); }

  static constexpr std::size_t k_max_connections = 16;

 private:
  accept_loop::handlers accept_handlers();
  void on_accept(asio::ip::tcp::socket socket);

  std::shared_ptr<std::function<std::string()>> render_;
  std::vector<std::weak_ptr<metrics_connection>> connections_;  // oldest first
  accept_loop accept_;
};

/// Whether `address` may serve plain-HTTP metrics without metrics_listen_public: a
/// loopback or private (RFC 1918, RFC 4193 ULA, link-local) address.
bool is_local_or_private(const asio::ip::address& address);

}  // namespace zp::provisioning
