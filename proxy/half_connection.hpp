#pragma once
// One data-plane connection before it is paired: TLS handshake, hello, then waiting in
// the session table for its opposite half (PROTOCOL.md 3.2-3.4).
//
// Owner: its worker_shard (unique_ptr in the shard's list). Lifetime: the object lives
// until it is `done` and no operation of its is pending; then it asks the shard to
// delete it (deferred, never from inside its own call stack). While it waits in the
// session table it is never deleted: either its own cancel() wins and it finishes
// itself, or a peer claimed it and a claim message is on its way to this worker.
//
// Every async handler goes through guard(), which counts pending operations, so a
// handler never runs on a deleted object.

#include "common/http_request_parser.hpp"
#include "common/tls_socket.hpp"
#include "proxy/data_plane_config.hpp"
#include "proxy/hello.hpp"
#include "proxy/session_id.hpp"
#include "proxy/stats.hpp"
#include "proxy/worker_shard.hpp"

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>

namespace zp::proxy {

class worker_shard;
class relay_session;

/// A half handed from its worker to the session's worker.
struct half_handoff {
  tls_socket::released connection;
  std::string early_data;
  asio::ip::tcp::endpoint remote;
  std::string cert_sha256;   // Module Server client certificate, empty on 17486
  bool ended = false;        // the client ended its stream while waiting
  bool failed = false;       // the connection failed while waiting
  unsigned from_worker = 0;  // where the half waited
};

class half_connection {
 public:
  using clock = std::chrono::steady_clock;

  half_connection(worker_shard& shard, role kind, asio::ip::tcp::socket socket,
                  std::shared_ptr<const data_plane_config> config);
  ~half_connection();
  half_connection(const half_connection&) = delete;
  half_connection& operator=(const half_connection&) = delete;

  /// Begins the handshake.
  void start();
  /// A peer on another (or this) worker claimed this waiting half for `session`,
  /// which lives on `target`. Runs on this half's worker.
  void on_claimed(worker_shard& target, relay_session* session);
  /// Drain: a waiting half is answered 503; others are left to finish their hello (which
  /// then gets 503). Runs on this half's worker.
  void on_drain();
  /// Closes at once (shutdown of the whole data plane).
  void abort();
  /// DELETE /v1/sessions/<id>: a waiting half with this id leaves and is closed.
  bool kill_if_waiting(const session_id& id);
  /// Revocation: a Module Server half presenting this certificate is closed.
  bool close_if_certificate(const std::string& cert_sha256);
  /// /v1/sessions: a waiting half; nullopt in any other phase.
  std::optional<session_info> info() const;

  /// The shard's list position, for O(1) removal.
  std::list<std::unique_ptr<half_connection>>::iterator self_;

 private:
  enum class phase { handshake, hello, waiting, claimed, responding, done };

  template <typename F>
  auto guard(F f) {
    ++pending_;
    return [this, f = std::move(f)](auto&&... args) mutable {
      --pending_;
      if (phase_ == phase::done) return maybe_destroy();
      f(std::forward<decltype(args)>(args)...);
    };
  }
  void maybe_destroy();
  void finish();  // phase done, socket closed

  role my_role() const { return kind_ == role::endpoint ? role::endpoint : role::module_server; }
  void do_handshake();
  void on_handshake_failed(const std::error_code& ec);
  void do_read_hello();
  void on_hello();
  void pair_with(void* peer);
  void wait_for_peer();
  void read_while_waiting();
  void stop_waiting(const hello_error* answer);
  void respond(const hello_error& error);
  void do_respond_write();
  void linger_then_close();
  void arm(std::chrono::steady_clock::duration d, void (half_connection::*on_expiry)());
  void on_handshake_or_hello_timeout();
  void on_pair_timeout();
  half_handoff make_handoff();
  void release_source_slot();

  worker_shard& shard_;
  const role kind_;
  std::shared_ptr<const data_plane_config> config_;
  asio::ip::tcp::endpoint remote_;
  tls_socket tls_;
  asio::steady_timer timer_;
  http_request_parser parser_;
  std::string early_;  // early data (PROTOCOL.md 3.2), at most k_max_early_data bytes
  session_id id_{};
  std::string cert_sha256_;
  std::string out_;  // the error response being written
  std::size_t out_off_ = 0;
  std::size_t lingered_ = 0;  // bytes discarded while lingering before close
  clock::time_point hello_done_at_{};
  unsigned pending_ = 0;
  phase phase_ = phase::handshake;
  bool handshake_done_ = false;
  bool holds_source_slot_ = false;
  bool reading_ = false;  // a read wait is pending while waiting for the peer
  bool ended_ = false;    // stream ended while waiting
  bool failed_ = false;   // connection failed while waiting
  bool destroy_posted_ = false;
  std::uint64_t timer_generation_ = 0;
};

}  // namespace zp::proxy
