#pragma once
// One data-plane connection before it is paired, i.e. admission (PROTOCOL.md 3.2-3.4):
// TLS handshake, hello, then waiting in the session table for its opposite half, or an
// error response. Pairing itself is the rendezvous's (proxy/rendezvous.hpp).
//
// Owner: its worker_shard (unique_ptr in the shard's list). Lifetime: deferred deletion
// (proxy/deferred_deletion.hpp) once `done` with no operation pending. While it waits in
// the session table it is never deleted: either its own leave wins and it finishes
// itself, or a peer claimed it and the claim is on its way to this worker (rendezvous
// I1, I2).

#include "common/http_request_parser.hpp"
#include "common/source_limiter.hpp"
#include "common/tls_socket.hpp"
#include "proxy/admission.hpp"
#include "proxy/data_plane_config.hpp"
#include "proxy/deferred_deletion.hpp"
#include "proxy/hello.hpp"
#include "proxy/rendezvous.hpp"
#include "proxy/reports.hpp"
#include "proxy/session_id.hpp"
#include "proxy/stats.hpp"

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zp::proxy {

class worker_shard;

class half_connection : public deferred_deletion<half_connection> {
 public:
  using clock = std::chrono::steady_clock;

  /// A connection from `remote` admitted by `ticket` (PROTOCOL.md 3.6); `in_fd_reserve`:
  /// accepted into the descriptor reserve, so it may only be a second half.
  half_connection(worker_shard& shard, role side, asio::ip::tcp::socket socket, const asio::ip::tcp::endpoint& remote,
                  std::shared_ptr<const data_plane_config> config, admission_limits::ticket ticket, bool in_fd_reserve);
  ~half_connection();
  half_connection(const half_connection&) = delete;
  half_connection& operator=(const half_connection&) = delete;

  /// Begins the handshake.
  void start();
  /// Drain: a waiting half is answered 503; others are left to finish their hello (which
  /// then gets 503). Runs on this half's worker.
  void on_drain();
  /// Closes at once (shutdown of the whole data plane).
  void abort();
  /// DELETE /v1/sessions/<id>: a waiting half with this id leaves and is closed.
  bool kill_if_waiting(const session_id& id);
  /// Revocation: a Module Server half presenting this certificate is closed.
  bool close_if_certificate(const std::string& cert_sha256);
  /// CA replacement: a Module Server half whose certificate fails `test` is closed.
  bool close_if_untrusted(const std::function<bool(X509*, STACK_OF(X509) *)>& test);
  /// The id of a waiting half; nullopt in any other phase.
  std::optional<session_id> waiting_id() const {
    return phase_ == phase::waiting ? std::optional<session_id>(id_) : std::nullopt;
  }
  /// /v1/sessions: a waiting half; nullopt in any other phase.
  std::optional<session_info> info() const;

  // For the rendezvous (on this half's worker).
  worker_shard& shard() { return shard_; }
  const session_id& id() const { return id_; }
  role side() const { return side_; }
  const std::shared_ptr<const data_plane_config>& config() const { return config_; }
  /// Gives the connection to its session: the half is done afterwards.
  half_handoff hand_over();

  /// For deferred_deletion: nothing of this half will run again.
  bool closed() const { return phase_ == phase::done; }
  /// The shard's list position, for O(1) removal.
  std::list<std::unique_ptr<half_connection>>::iterator self_;

 private:
  // [proxy_header →] handshake → hello → waiting → (handed over | claimed → handed over)
  // → done, or handshake, hello or waiting → responding → done. `proxy_header`: a load
  // balancer's connection before its PROXY v2 header is read (PROTOCOL.md 3.7).
  // `claimed`: its leave() lost to a claim.
  enum class phase { proxy_header, handshake, hello, waiting, claimed, responding, done };

  // Every phase change goes through here: it keeps what the phases hold (admission slot,
  // early-data bytes counted, the hangup watch, the pending slot) in step with them.
  void set_phase(phase next);
  void finish();  // phase done, socket closed
  void watch_for_hangup();
  void do_read_proxy_header();
  void do_handshake();
  void on_handshake_failed(const std::error_code& ec);
  void do_read_hello();
  void on_hello();
  void read_while_waiting();
  void stop_waiting(const hello_error* answer);
  void respond(const hello_error& error);
  void do_respond_write();
  void linger_then_close();
  void arm(std::chrono::steady_clock::duration d, void (half_connection::*on_expiry)());
  // Waits for `w`, then runs `next`; a failed wait finishes the half.
  void wait_then(tls_socket::want w, void (half_connection::*next)());
  void on_handshake_or_hello_timeout();
  std::chrono::seconds hello_deadline() const;
  void on_pair_timeout();

  const role side_;
  const bool in_fd_reserve_;
  std::shared_ptr<const data_plane_config> config_;
  asio::ip::tcp::endpoint remote_;  // the client: the PROXY header's source once there is one
  const asio::ip::tcp protocol_;    // of the accepted socket, whatever remote_ becomes
  tls_socket tls_;
  asio::steady_timer timer_;
  http_request_parser parser_;
  std::string early_;                       // early data (PROTOCOL.md 3.2), at most k_max_early_data bytes
  std::vector<std::uint8_t> proxy_header_;  // a balancer's PROXY v2 header, while read
  session_id id_{};
  std::string cert_sha256_;
  admission_limits::ticket admitting_;  // from accept until waiting or done (PROTOCOL.md 3.6)
  source_slot pending_slot_;            // endpoint halves, while waiting (PROTOCOL.md 3.4, 429)
  std::string out_;                     // the error response being written
  std::size_t out_off_ = 0;
  std::size_t lingered_ = 0;  // bytes discarded while lingering before close
  const clock::time_point accepted_at_ = clock::now();
  clock::time_point hello_done_at_{};
  phase phase_ = phase::handshake;
  half_stream stream_ = half_stream::open;  // what the client did while waiting
  bool watched_ = false;                    // in the shard's hangup watch
  std::uint64_t timer_generation_ = 0;
};

}  // namespace zp::proxy
