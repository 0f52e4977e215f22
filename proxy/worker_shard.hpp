#pragma once
// The part of the data plane that lives on one worker: its acceptors, the connections
// still in handshake/hello/waiting (halves), and the paired sessions it relays.
//
// Owner of every half and session on its worker (by unique_ptr in std::lists, each
// object keeping its own iterator for O(1) removal).
// Everything here runs on the worker's thread except where a comment says otherwise;
// other threads reach a shard only by posting to its io_context.

#include "common/log.hpp"
#include "proxy/buffer_pool.hpp"
#include "proxy/hangup_watch.hpp"
#include "proxy/listener.hpp"
#include "proxy/peer_chains.hpp"
#include "proxy/plane_shared.hpp"
#include "proxy/refusal_log.hpp"
#include "proxy/reports.hpp"
#include "proxy/stats.hpp"

#include <absl/status/status.h>
#include <openssl/x509.h>
#include <asio/io_context.hpp>

#include <chrono>
#include <deque>
#include <functional>
#include <list>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zp::proxy {

class half_connection;
class relay_session;

class worker_shard {
 public:
  worker_shard(asio::io_context& io, unsigned index, plane_shared& shared);
  ~worker_shard();
  worker_shard(const worker_shard&) = delete;
  worker_shard& operator=(const worker_shard&) = delete;

  /// Binds both data-plane listeners (any thread, before start()). With `accept_for`
  /// (platforms without port sharing), this shard's listeners accept for all those
  /// shards in turn, itself included; without it, for itself only.
  absl::Status bind(const data_plane_config& config, std::vector<worker_shard*> accept_for = {});
  /// New keepalive settings for the connections accepted from now on; on this worker.
  void apply_keepalive(const keepalive_settings& k);
  /// Starts accepting (posted to the worker).
  void start();
  /// Closes listeners (on the worker).
  void close_listeners();
  /// Drain step on the worker: close listeners, answer waiting halves 503.
  void begin_drain();
  /// Closes every half and session now (on the worker).
  void close_all();

  asio::io_context& io() { return io_; }
  unsigned index() const { return index_; }
  plane_shared& shared() { return shared_; }
  worker_counters& counters() { return counters_; }
  const worker_counters& counters() const { return counters_; }
  buffer_pool& buffers() { return buffers_; }
  /// Module Server chains of the sessions handed to the record layer.
  class peer_chains& peer_chains() {
    return peer_chains_;
  }
  hangup_watch& hangups() { return hangups_; }
  /// The refusals of this worker, aggregated for the log.
  refusal_log& refusals() { return refusals_; }
  /// A connection from `source` refused for `why`: counted, and logged aggregated.
  void refuse(role side, const asio::ip::address& source, reject_reason why) {
    counters_.add(counter::rejected, side, why);
    refusals_.add(side, source, reject_reason_name(why));
  }
  /// Paces the "handshake failed" log lines of this worker.
  log::rate_limit& handshake_log() { return handshake_log_; }
  /// Sessions on this worker (live, or placed here and on their way) and in-flight
  /// halves; read by anyone.
  std::uint64_t session_count() const { return session_count_.load(std::memory_order_relaxed); }
  std::uint64_t half_count() const { return half_count_.load(std::memory_order_relaxed); }
  /// Listener ports actually bound (endpoint, module server); tests bind port 0.
  std::pair<std::uint16_t, std::uint16_t> bound_ports() const;

  /// On the worker: what /v1/sessions lists.
  std::vector<session_info> list_sessions() const;
  /// On the worker: ends the live session or waiting half with this id; false if none.
  bool kill(const session_id& id);
  /// On the worker: ids of live sessions and waiting halves starting with `prefix`.
  std::vector<session_id> find_by_prefix(std::string_view prefix) const;
  /// On the worker: ends sessions and halves whose Module Server certificate has this
  /// SHA-256 (revocation); answers how many.
  std::size_t close_revoked(const std::string& cert_sha256);
  /// On the worker: ends sessions and halves whose Module Server certificate fails `test`.
  std::size_t close_untrusted(const std::function<bool(X509*, STACK_OF(X509) *)>& test);
  /// On the worker: remembers an error for diagnostics (the last k_recent_errors).
  void record_error(role listener, const asio::ip::address& peer, std::string_view reason);
  /// On the worker: the remembered errors, oldest first.
  std::vector<error_record> recent_errors() const { return {errors_.begin(), errors_.end()}; }
  static constexpr std::size_t k_recent_errors = 100;
  /// How often the aggregated refusal lines are written (proxy/refusal_log.hpp).
  static constexpr std::chrono::seconds k_refusal_interval{10};

  /// Any thread: a session will be created on this worker (it counts from now, so that
  /// the next placement sees it).
  void place_session() { session_count_.fetch_add(1, std::memory_order_relaxed); }
  /// Registers a new session owned by this shard (placed here before).
  relay_session* add_session(std::unique_ptr<relay_session> s);
  /// Deferred deletion: called (posted) once a half or session has closed and has no
  /// operation pending.
  void destroy(half_connection* h);
  void destroy(relay_session* s);

 private:
  void on_accept(role side, asio::ip::tcp::socket socket);
  listener::accept_target accept_target_for(role side);
  void refuse_at_accept(role side, asio::ip::tcp::socket& socket, const asio::ip::address& source, reject_reason why);

  asio::io_context& io_;
  const unsigned index_;
  plane_shared& shared_;
  worker_counters counters_;
  buffer_pool buffers_;
  class peer_chains peer_chains_;  // before sessions_: they hold its entries
  hangup_watch hangups_;
  refusal_log refusals_{io_, k_refusal_interval};
  log::rate_limit handshake_log_{std::chrono::seconds(10)};
  std::optional<listener> endpoint_listener_;
  std::optional<listener> module_server_listener_;
  std::vector<worker_shard*> accept_for_;  // set by bind(); read on this worker only
  std::size_t next_target_ = 0;            // round-robin over accept_for_
  // False once close_listeners() ran: a connection another worker's listener accepted
  // for this one and posted before it closed is dropped on arrival (drain, stop).
  bool accepting_ = true;
  std::list<std::unique_ptr<half_connection>> halves_;
  std::list<std::unique_ptr<relay_session>> sessions_;
  std::deque<error_record> errors_;
  std::atomic<std::uint64_t> session_count_{0};
  std::atomic<std::uint64_t> half_count_{0};
};

}  // namespace zp::proxy
