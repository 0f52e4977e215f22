#pragma once
// One data-plane acceptor on one worker (SO_REUSEPORT: every worker binds the same
// port and the kernel spreads connections, so no accept crosses threads).
// Owner: its worker_shard; runs only on that worker after bind().

#include "proxy/counters.hpp"

#include <absl/status/status.h>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>

namespace zp::proxy {

class listener {
 public:
  using accept_handler = std::function<void(asio::ip::tcp::socket)>;

  listener(asio::io_context& io, listener_kind kind, worker_counters& counters, accept_handler on_accept);
  /// Opens, binds (SO_REUSEPORT) and listens; safe from any thread before start().
  absl::Status bind(const asio::ip::tcp::endpoint& at);
  /// Starts accepting; on the owning worker.
  void start();
  /// Stops accepting and closes the socket; on the owning worker.
  void close();
  asio::ip::tcp::endpoint local_endpoint() const;

 private:
  void do_accept();
  void on_accept(std::error_code ec, asio::ip::tcp::socket socket);

  asio::ip::tcp::acceptor acceptor_;
  asio::steady_timer backoff_;
  std::chrono::milliseconds backoff_delay_{0};
  listener_kind kind_;
  worker_counters& counters_;
  accept_handler on_accept_;
  bool closed_ = false;
};

}  // namespace zp::proxy
