#pragma once
// The TLS backend of --target forward: what the forwarder under test connects to.
//
// The client half of a session sends the same hello as on zoneproxy (PROTOCOL.md 3.2)
// through the forwarder; the backend accepts the forwarder's connection, does the TLS
// server handshake, reads that hello, answers it with the 101 head, and hands the
// connection to the session waiting under that id, on the session's own I/O thread
// (zp::tls_socket release + adopt). So both targets carry the same bytes, and a session
// is the same pair of connections for every scenario.
//
// One acceptor per I/O thread on the same port (SO_REUSEPORT), so accepts and server
// handshakes are spread over the threads.

#include "bench/harness/io_pool.hpp"
#include "bench/harness/options.hpp"
#include "bench/harness/stats.hpp"
#include "bench/harness/tls_conn.hpp"

#include <absl/status/status.h>

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace zp::bench {

class backend {
 public:
  /// Runs on the session's context with the backend connection (its hello read, no 101
  /// sent yet).
  using arrival = std::function<void(std::unique_ptr<tls_conn>)>;

  backend(io_pool& pool, SSL_CTX* server_ctx, error_log& errors);
  /// Binds and starts accepting on every I/O thread.
  absl::Status start(const host_port& listen);
  /// Expects a connection for `id`; `on_arrival` runs on `io` when it came.
  void expect(const std::string& id, asio::io_context& io, arrival on_arrival);
  /// Stops expecting `id`; true if it was still expected (on_arrival will not run).
  bool forget(const std::string& id);
  /// Closes the acceptors.
  void stop();

 private:
  struct expected {
    asio::io_context* io = nullptr;
    arrival on_arrival;
  };
  void accept(asio::ip::tcp::acceptor& acceptor);
  void serve(std::unique_ptr<tls_conn> conn);

  io_pool& pool_;
  SSL_CTX* ctx_;
  error_log& errors_;
  std::vector<std::unique_ptr<asio::ip::tcp::acceptor>> acceptors_;
  std::atomic<bool> stopped_{false};
  std::mutex mu_;
  std::unordered_map<std::string, expected> expected_;  // guarded by mu_
};

}  // namespace zp::bench
