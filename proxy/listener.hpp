#pragma once
// One data-plane acceptor on one worker. Where the platform lets sockets share a port
// (SO_REUSEPORT), every worker binds the same port, the kernel spreads connections, and
// no accept crosses threads. Where it does not (Windows), one worker's listener accepts
// for all: each connection is accepted straight into the io_context of the worker the
// picker names (round-robin) and handed to it by a post, so it never runs elsewhere.
// Owner: its worker_shard; runs only on that worker after bind().

#include "common/acceptor.hpp"
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
  /// Where the next connection goes: a worker's io_context and what takes the socket
  /// there (called on that worker).
  struct accept_target {
    asio::io_context* io;
    accept_handler deliver;
  };
  /// Called on the listener's worker before each accept.
  using target_picker = std::function<accept_target()>;

  listener(asio::io_context& io, role kind, worker_counters& counters, target_picker pick);
  /// Accepts for this worker only.
  listener(asio::io_context& io, role kind, worker_counters& counters, accept_handler on_accept);
  /// Opens, binds (SO_REUSEPORT where it exists) and listens; safe from any thread
  /// before start().
  absl::Status bind(const asio::ip::tcp::endpoint& at);
  /// Starts accepting; on the owning worker.
  void start();
  /// Stops accepting and closes the socket; on the owning worker.
  void close();
  /// The options its connections get where they inherit them (common/acceptor.hpp); on
  /// this listener's worker.
  void apply(const keepalive_settings& k);
  asio::ip::tcp::endpoint local_endpoint() const;

 private:
  void do_accept();
  void on_accept(std::error_code ec, asio::ip::tcp::socket socket, const accept_target& to);

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
  asio::io_context& io_;
  target_picker pick_;
  log::rate_limit log_limit_;  // a failing accept repeats every backoff step
};

}  // namespace zp::proxy
