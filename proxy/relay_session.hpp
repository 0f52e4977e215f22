#pragma once
// A paired session: the endpoint's and the Module Server's connections, relayed both
// ways on one worker (PROTOCOL.md 3.5, ARCHITECTURE.md "The path of one relayed byte").
//
// Owner: the worker_shard of the worker it runs on; it owns both connections. Both
// halves reach it as half_handoffs (fd + SSL*): the claimer's at construction, the
// claimed one posted from the worker it waited on (proxy/rendezvous.hpp, steps 2-4).
// Lifetime: deferred deletion (proxy/deferred_deletion.hpp) once closed with no
// operation pending; the remote handoff counts as pending from construction (I3).
//
// Per direction: read (decrypt) into one buffer, write (encrypt) all of it to the other
// side, then read again, so a slow reader holds at most one buffer per direction. The
// buffer comes from the worker's pool only while bytes are in flight.
//
// Two stages. First OpenSSL relays, as it did the handshakes: the 101s and the early
// data go through it. At the first moment when nothing is in flight either way and
// OpenSSL holds no received byte, both connections hand their TLS 1.2 keys to the record
// layer (common/tls12_records.hpp) and both SSL objects are freed; from then on a
// direction reads ciphertext, opens each record in place and seals it in place for the
// other side, several records per system call. A session whose connections cannot hand
// off (a negotiated maximum fragment length on one side only) stays with OpenSSL.

#include "common/tls12_records.hpp"
#include "common/tls_socket.hpp"
#include "proxy/buffer_pool.hpp"
#include "proxy/data_plane_config.hpp"
#include "proxy/deferred_deletion.hpp"
#include "proxy/peer_chains.hpp"
#include "proxy/rendezvous.hpp"
#include "proxy/reports.hpp"
#include "proxy/session_id.hpp"
#include "proxy/session_log.hpp"

#include <asio/steady_timer.hpp>

#include <chrono>
#include <list>
#include <memory>
#include <optional>
#include <string>

namespace zp::proxy {

class relay_session : public deferred_deletion<relay_session> {
 public:
  using clock = std::chrono::steady_clock;

  /// A session whose second half claimed the first at `paired_at`, with that half
  /// (`local`, of role `local_role`) handed over; the other half is on its way.
  relay_session(worker_shard& shard, session_id id, std::shared_ptr<const data_plane_config> config,
                clock::time_point paired_at, role local_role, half_handoff local);
  ~relay_session();
  relay_session(const relay_session&) = delete;
  relay_session& operator=(const relay_session&) = delete;

  /// Rendezvous step 4: the claimed half arrives; both get their 101 and the relay starts.
  void adopt_remote(half_handoff&& half);
  /// Ends the session on both sides, politely (close_notify + FIN where possible), for
  /// `why`: DELETE /v1/sessions (killed), revocation, idle timeout, end of drain.
  void close(end_reason why);

  const session_id& id() const { return id_; }
  /// Not yet closed.
  bool live() const { return !closed_; }
  /// For deferred_deletion: nothing of this session will run again.
  bool closed() const { return closed_; }
  /// SHA-256 of the Module Server's client certificate (for revocation).
  const std::string& module_server_cert_sha256() const { return record_.ms_sha256; }
  /// Whether the Module Server's certificate passes `test` (true before it started).
  bool module_server_trusted(const std::function<bool(X509*, STACK_OF(X509) *)>& test) const;
  /// What /v1/sessions shows; nullopt once closed.
  std::optional<session_info> info() const;
  std::list<std::unique_ptr<relay_session>>::iterator self_;

 private:
  struct direction {
    tls_socket* from = nullptr;
    tls_socket* to = nullptr;
    std::string preface;  // 101 for `to`, then the early data `from` sent before pairing
    std::size_t preface_off = 0;
    buffer_pool::buffer buf;
    // With OpenSSL: [begin, end) is plaintext still to write. With the record layer:
    // [begin, ready) is sealed records still to write, [ready, end) the start of a record
    // not yet whole.
    std::size_t begin = 0, ready = 0, end = 0;
    bool eof = false;           // `from` ended its stream
    bool close_notify = false;  // record layer: our close_notify for `to` is queued or sent
    bool done = false;          // and that end was passed on to `to`
    bool drained = false;       // record layer: the last receive took less than it asked for
    std::uint64_t bytes = 0;
    tls12::record_cipher* open = nullptr;  // record layer: `from`'s records
    tls12::record_cipher* seal = nullptr;  // record layer: for `to`
  };
  // Both connections' keys once handed off: rx opens what a side sends, tx seals for it.
  struct record_keys {
    tls12::record_cipher endpoint_rx, endpoint_tx, module_server_rx, module_server_tx;
    std::size_t max_plaintext = tls12::k_max_plaintext;
  };

  void take(role r, half_handoff&& half);
  void start();
  void pump(direction& d);
  // One step of `d` with the record layer; false when pump must return.
  bool pump_records(direction& d);
  // Record layer: waits until `d.from` is readable, holding a buffer only for part of a
  // record; returns false (pump must return).
  bool wait_to_receive(direction& d);
  // Hands both connections to the record layer if nothing is in flight; true if it did.
  bool try_handoff();
  // The record layer found `ec` in what `d.from` sent: its alert to that side, then both close.
  void fail_record(direction& d, const std::error_code& ec);
  // Record layer, best effort, no waiting: one alert sealed for `d.to`, if its stream is at
  // a record boundary.
  void send_alert_now(direction& d, std::uint8_t level, std::uint8_t description);
  void wait(direction& d, tls_socket& on, tls_socket::want w);
  // The byte counter of `d`'s direction.
  counter bytes_counter(const direction& d) const;
  // A reset, TLS or socket error on `on` (its side ends the session).
  void fail(const std::error_code& ec, const tls_socket* on);
  void finish(end_reason why);
  // The termination code of the session log for an end for `why`.
  termination termination_of(end_reason why) const;
  termination::side side_of(const tls_socket* s) const {
    return s == &*endpoint_ ? termination::side::endpoint : termination::side::module_server;
  }
  // `s` ended its stream cleanly: with close_notify, or a bare FIN.
  termination clean_end_of(const tls_socket* s) const {
    return {side_of(s), s->received_close_notify() ? termination::how::close_notify : termination::how::fin};
  }
  void arm_idle(clock::duration after);
  direction& other(direction& d) { return &d == &to_module_server_ ? to_endpoint_ : to_module_server_; }

  const session_id id_;
  std::shared_ptr<const data_plane_config> config_;
  const clock::time_point paired_at_;
  const bool local_moved_;  // the claimer's half came from another worker (placement)
  clock::time_point started_at_{};
  clock::time_point last_activity_{};
  std::optional<half_handoff> endpoint_half_, module_server_half_;
  session_record record_;             // what the session log says of it
  std::optional<termination> ended_;  // the first end: a side's end of stream or failure
  session_log_mode log_ = session_log_mode::all;
  std::optional<tls_socket> endpoint_, module_server_;
  std::unique_ptr<record_keys> records_;  // set at the hand-off
  bool handoff_impossible_ = false;       // stays with OpenSSL (or record_layer = false)
  // The Module Server's chain once its SSL* is gone (CA replacement still judges it).
  std::shared_ptr<const peer_chain> module_server_chain_;
  direction to_module_server_;  // endpoint → Module Server
  direction to_endpoint_;       // Module Server → endpoint
  asio::steady_timer idle_timer_;
  bool started_ = false;
  bool closed_ = false;
};

}  // namespace zp::proxy
