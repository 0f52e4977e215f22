#pragma once
// One data-plane acceptor on one worker. Where the platform lets sockets share a port
// (SO_REUSEPORT), every worker binds the same port, the kernel spreads connections, and
// no accept crosses threads. Where it does not (Windows), one worker's listener accepts
// for all: each connection is accepted straight into the io_context of the worker the
// picker names (round-robin) and handed to it by a post, so it never runs elsewhere.
// Owner: its worker_shard; runs only on that worker after bind().

#include "common/accept_loop.hpp"
#include "common/acceptor.hpp"
#include "proxy/stats.hpp"

#include <absl/status/status.h>
#include <asio/ip/tcp.hpp>

#include <functional>
#include <memory>

namespace zp::proxy {

class listener {
 public:
  using accept_handler = std::function<void(asio::ip::tcp::socket)>;
  /// Where the next connection goes: a worker's io_context and what takes the socket
  /// there (called on that worker).
  using accept_target = accept_loop::target;
  /// Called on the listener's worker before each accept.
  using target_picker = std::function<accept_target()>;

  listener(asio::io_context& io, role kind, worker_counters& counters, target_picker pick);
  /// Accepts for this worker only.
  listener(asio::io_context& io, role kind, worker_counters& counters, accept_handler on_accept);
  /// Opens, binds (SO_REUSEPORT where it exists) and listens; safe from any thread
  /// before start().
  absl::Status bind(const asio::ip::tcp::endpoint& at);
  /// Starts accepting; on the owning worker.
  void start() { loop_.start(); }
  /// Stops accepting and closes the socket; on the owning worker.
  void close() { loop_.close(); }
  /// The options its connections get where they inherit them (common/acceptor.hpp); on
  /// this listener's worker.
  void apply(const keepalive_settings& k);
  asio::ip::tcp::endpoint local_endpoint() const { return loop_.local_endpoint(); }

 private:
  // Counts each connection as accepted on this worker, then hands it to its target.
  static accept_loop::handlers counted(role kind, worker_counters& counters, target_picker pick);

  accept_loop loop_;
};

}  // namespace zp::proxy
