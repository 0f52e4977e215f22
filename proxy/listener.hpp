#pragma once
// One data-plane acceptor on one worker (SO_REUSEPORT: every worker binds the same
// port and the kernel spreads connections, so no accept crosses threads).
// Owner: its worker_shard; runs only on that worker after bind().

#include "common/log.hpp"
#include "proxy/stats.hpp"

#include <absl/status/status.h>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>

namespace zp::proxy {

class listener {
 public:
  using accept_handler = std::function<void(asio::ip::tcp::socket)>;

  listener(asio::io_context& io, role kind, worker_counters& counters, accept_handler on_accept);
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

  // Shared with pending handlers, so a handler that completes after the listener is
  // gone (its completion was already queued) finds `closed` set and touches nothing
  // else. close() always runs on the worker before the shard is destroyed.
  struct state {
    asio::ip::tcp::acceptor acceptor;
    asio::steady_timer backoff;
    std::chrono::milliseconds backoff_delay{0};
    bool closed = false;
    explicit state(asio::io_context& io) : acceptor(io), backoff(io) {}
  };
  std::shared_ptr<state> state_;
  role kind_;
  worker_counters& counters_;
  accept_handler on_accept_;
  log::rate_limit log_limit_;  // a failing accept repeats every backoff step
};

}  // namespace zp::proxy
