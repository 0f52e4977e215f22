#include "proxy/relay_session.hpp"

#include "common/fingerprint.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "common/tls_error.hpp"
#include "proxy/worker_shard.hpp"

#include <spdlog/spdlog.h>
#include <asio/error.hpp>
#include <asio/post.hpp>

#include <array>
#include <cstring>

namespace zp::proxy {
namespace {

constexpr std::string_view k_switching =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n";
// Read/write rounds one direction may run before yielding to other connections on the
// worker: enough to move a few buffers per wake-up, few enough to stay fair.
constexpr int k_rounds_per_turn = 16;

}  // namespace

termination relay_session::termination_of(end_reason why) const {
  using how = termination::how;
  switch (why) {
    case end_reason::peer_closed:
    case end_reason::reset:
    case end_reason::error:
      return ended_.value_or(termination{termination::side::proxy, how::error});
    case end_reason::idle_timeout:
      return {termination::side::proxy, how::idle_timeout};
    case end_reason::revoked:
      return {termination::side::proxy, how::revoked};
    case end_reason::ca_replaced:
      return {termination::side::proxy, how::ca_replaced};
    case end_reason::killed:
      return {termination::side::proxy, how::killed};
    case end_reason::drain:
    case end_reason::count:
      break;
  }
  return {termination::side::proxy, how::drain};
}

relay_session::relay_session(worker_shard& shard, session_id id, std::shared_ptr<const data_plane_config> config,
                             clock::time_point paired_at, role local_role, half_handoff local)
    : deferred_deletion(shard, /*initially_pending=*/1),  // the remote handoff (I3)
      id_(id),
      config_(std::move(config)),
      paired_at_(paired_at),
      local_moved_(local.from_worker != shard.index()),
      idle_timer_(shard.io()) {
  record_.id = id;
  record_.worker = shard.index();
  shard_.shared().live_sessions.fetch_add(1, std::memory_order_relaxed);
  shard_.counters().add(counter::sessions_paired);
  take(local_role, std::move(local));
}

relay_session::~relay_session() = default;

void relay_session::adopt_remote(half_handoff&& half) {
  operation_done();
  if (local_moved_ || half.from_worker != shard_.index()) shard_.counters().add(counter::sessions_migrated);
  if (closed_) {
    // Killed before the peer arrived: the handoff's destructor closes its fd.
    return maybe_destroy();
  }
  // The half that arrives here is the one that waited (rendezvous step 3).
  record_.waited = endpoint_half_ ? role::module_server : role::endpoint;
  record_.wait = paired_at_ - half.hello_at;
  take(record_.waited, std::move(half));
  start();
}

void relay_session::take(role r, half_handoff&& half) {
  if (r == role::module_server) {
    record_.ms_sha256 = half.cert_sha256;
    record_.module_server = half.remote;
  } else {
    record_.endpoint = half.remote;
  }
  (r == role::endpoint ? endpoint_half_ : module_server_half_).emplace(std::move(half));
}

void relay_session::start() {
  started_ = true;
  started_at_ = last_activity_ = clock::now();
  half_handoff& e = *endpoint_half_;
  half_handoff& m = *module_server_half_;
  endpoint_.emplace(shard_.io(), std::move(e.connection));
  module_server_.emplace(shard_.io(), std::move(m.connection));
  // One record per read from here on, so that OpenSSL holds nothing at record boundaries
  // and the hand-off to the record layer can happen at the first quiet moment.
  endpoint_->stop_read_ahead();
  module_server_->stop_read_ahead();
  shard_.counters().observe(histogram_id::pairing_latency,
                            std::chrono::duration<double>(started_at_ - paired_at_).count());
  log_ = shard_.shared().session_log.load(std::memory_order_relaxed);
  handoff_impossible_ = !shard_.shared().record_layer.load(std::memory_order_relaxed);
  if (log_ != session_log_mode::off) {
    if (X509* cert = module_server_->peer_certificate()) record_.ms_subject = subject_of(cert);
  }
  if (log_ == session_log_mode::all) log_session_paired(record_);
  if (e.stream == half_stream::failed) return fail(asio::error::connection_reset, &*endpoint_);
  if (m.stream == half_stream::failed) return fail(asio::error::connection_reset, &*module_server_);
  // A revocation that landed while the Module Server half was on its way here found it in
  // no list (PROTOCOL.md 4.2: its sessions are closed).
  if (config_->is_revoked && config_->is_revoked(m.cert_sha256)) return close(end_reason::revoked);

  // PROTOCOL.md 3.3: both get the 101, then the relay starts with the early data.
  auto setup = [](direction& d, tls_socket& from, tls_socket& to, half_handoff& sender) {
    d = direction{};
    d.from = &from;
    d.to = &to;
    d.preface.reserve(k_switching.size() + sender.early_data.size());
    d.preface.append(k_switching).append(sender.early_data);
    d.eof = sender.stream == half_stream::ended;
    sender.early_data = std::string();
  };
  // A half that ended its stream while it waited ended the session first.
  for (auto [half, socket] : {std::pair{&e, &*endpoint_}, std::pair{&m, &*module_server_}}) {
    if (half->stream == half_stream::ended && !ended_) ended_ = clean_end_of(socket);
  }
  setup(to_module_server_, *endpoint_, *module_server_, e);
  setup(to_endpoint_, *module_server_, *endpoint_, m);
  // Early data is relayed bytes too: in the session log's bytes_to_* and the counters.
  for (direction* d : {&to_module_server_, &to_endpoint_}) {
    d->bytes = d->preface.size() - k_switching.size();
    if (d->bytes > 0) shard_.counters().add(bytes_counter(*d), d->bytes);
  }

  if (config_->settings.idle_timeout.count() > 0) arm_idle(config_->settings.idle_timeout);
  pump(to_module_server_);
  if (!closed_) pump(to_endpoint_);
}

bool relay_session::module_server_trusted(const std::function<bool(X509*, STACK_OF(X509) *)>& test) const {
  if (module_server_chain_) {
    return module_server_chain_->leaf == nullptr || test(module_server_chain_->leaf.get(), module_server_chain_->chain);
  }
  if (!module_server_ || module_server_->ssl() == nullptr) return true;  // not started: checked at start
  X509* leaf = module_server_->peer_certificate();
  return leaf == nullptr || test(leaf, SSL_get_peer_cert_chain(module_server_->ssl()));
}

bool relay_session::try_handoff() {
  if (records_ || handoff_impossible_) return false;
  // Nothing in flight either way: no preface or plaintext still to write (so nothing
  // sits in OpenSSL's write buffer), no end of stream on its way, and OpenSSL holds no
  // received byte.
  for (const direction* d : {&to_module_server_, &to_endpoint_}) {
    if (!d->preface.empty() || d->begin != d->end || d->eof || d->done) return false;
  }
  if (endpoint_->holds_received_bytes() || module_server_->holds_received_bytes()) return false;
  auto e = endpoint_->export_keys();
  auto m = module_server_->export_keys();
  if (!e.ok() || !m.ok() || e->max_plaintext != m->max_plaintext) {
    // A maximum fragment length on one side only would need records split: OpenSSL
    // relays this session to its end.
    handoff_impossible_ = true;
    spdlog::debug("event=record_layer_refused session={} reason={}", id_.prefix(),
                  log::q(!e.ok()   ? message_of(e.status())
                         : !m.ok() ? message_of(m.status())
                                   : std::string("max_fragment_length differs")));
    return false;
  }
  auto e_rx = tls12::record_cipher::make(e->rx, false), e_tx = tls12::record_cipher::make(e->tx, true);
  auto m_rx = tls12::record_cipher::make(m->rx, false), m_tx = tls12::record_cipher::make(m->tx, true);
  if (!e_rx.ok() || !e_tx.ok() || !m_rx.ok() || !m_tx.ok()) {
    handoff_impossible_ = true;
    return false;
  }
  records_ = std::make_unique<record_keys>(
      record_keys{std::move(*e_rx), std::move(*e_tx), std::move(*m_rx), std::move(*m_tx), e->max_plaintext});
  if (X509* leaf = module_server_->peer_certificate()) {
    module_server_chain_ =
        shard_.peer_chains().intern(record_.ms_sha256, leaf, SSL_get_peer_cert_chain(module_server_->ssl()));
  }
  endpoint_->drop_tls();
  module_server_->drop_tls();
  to_module_server_.open = &records_->endpoint_rx;
  to_module_server_.seal = &records_->module_server_tx;
  to_endpoint_.open = &records_->module_server_rx;
  to_endpoint_.seal = &records_->endpoint_tx;
  shard_.counters().add(counter::sessions_record_layer);
  return true;
}

std::optional<session_info> relay_session::info() const {
  if (closed_) return std::nullopt;
  session_info i;
  i.id_prefix = id_.prefix();
  i.state = "live";
  i.endpoint_address = record_.endpoint.address().to_string();
  i.module_server_address = record_.module_server.address().to_string();
  i.bytes_endpoint_to_module_server = to_module_server_.bytes;
  i.bytes_module_server_to_endpoint = to_endpoint_.bytes;
  i.age_s = std::chrono::duration<double>(clock::now() - paired_at_).count();
  return i;
}

void relay_session::pump(direction& d) {
  for (int round = 0; round < k_rounds_per_turn; ++round) {
    if (closed_ || d.done) return;
    if (records_) {
      if (!pump_records(d)) return;
      continue;
    }
    if (d.preface_off < d.preface.size()) {
      tls_socket::result r = d.to->try_write(d.preface.data() + d.preface_off, d.preface.size() - d.preface_off);
      d.preface_off += r.bytes;
      if (r.ec) return fail(r.ec, d.to);
      if (r.wait != tls_socket::want::nothing) return wait(d, *d.to, r.wait);
      std::string().swap(d.preface);  // its memory is not needed again
      d.preface_off = 0;
      continue;
    }
    if (d.begin < d.end) {
      tls_socket::result r = d.to->try_write(d.buf.get() + d.begin, d.end - d.begin);
      d.begin += r.bytes;
      if (r.ec) return fail(r.ec, d.to);
      if (r.wait != tls_socket::want::nothing) return wait(d, *d.to, r.wait);
      d.begin = d.end = 0;
      continue;
    }
    if (d.eof) {
      // PROTOCOL.md 3.5: everything is delivered; pass the end of stream on
      // (close_notify + FIN) and keep relaying the other direction.
      shard_.buffers().release(std::move(d.buf));
      tls_socket::result r = d.to->try_shutdown();
      if (r.ec) return fail(r.ec, d.to);  // PROTOCOL.md 3.5: a write failure closes both sides
      if (r.wait != tls_socket::want::nothing) return wait(d, *d.to, r.wait);
      d.done = true;
      if (other(d).done) finish(end_reason::peer_closed);
      return;
    }
    if (try_handoff()) continue;
    if (!d.buf) d.buf = shard_.buffers().acquire();
    tls_socket::result r = d.from->try_read(d.buf.get(), shard_.buffers().size());
    if (r.bytes > 0) {
      d.end = r.bytes;
      d.bytes += r.bytes;
      shard_.counters().add(bytes_counter(d), r.bytes);
      last_activity_ = clock::now();
      continue;
    }
    if (r.ec == asio::error::eof) {
      d.eof = true;
      if (!ended_) ended_ = clean_end_of(d.from);
      continue;
    }
    if (r.ec) return fail(r.ec, d.from);
    // Nothing to read: hand the empty buffer back so an idle session holds none.
    shard_.buffers().release(std::move(d.buf));
    return wait(d, *d.from, r.wait);
  }
  // Still busy after a full turn: yield, and continue after the worker's other work.
  asio::post(shard_.io(), guard([this, &d] { pump(d); }));
}

bool relay_session::pump_records(direction& d) {
  auto* base = reinterpret_cast<std::uint8_t*>(d.buf.get());
  if (d.begin < d.ready) {
    tls_socket::result r = d.to->try_send(base + d.begin, d.ready - d.begin);
    d.begin += r.bytes;
    if (r.ec) {
      fail(r.ec, d.to);
      return false;
    }
    if (d.begin < d.ready) {
      wait(d, *d.to, tls_socket::want::write);
      return false;
    }
    // All sent: the start of the next record moves to the front (less than a record).
    const std::size_t tail = d.end - d.ready;
    if (tail > 0) std::memmove(base, base + d.ready, tail);
    d.begin = d.ready = 0;
    d.end = tail;
    return true;
  }
  if (d.eof) {
    // PROTOCOL.md 3.5: everything is delivered; our close_notify, then the FIN, and the
    // other direction goes on. A record cut short by a FIN is dropped, as OpenSSL does.
    if (!d.close_notify) {
      if (auto ec = d.to->shutdown_fault()) {
        fail(ec, d.to);
        return false;
      }
      if (!d.buf) d.buf = shard_.buffers().acquire();
      base = reinterpret_cast<std::uint8_t*>(d.buf.get());
      auto alert = std::span<std::uint8_t, tls12::k_overhead + 2>(base, tls12::k_overhead + 2);
      if (auto ec = tls12::seal_alert(*d.seal, SSL3_AL_WARNING, SSL_AD_CLOSE_NOTIFY, alert)) {
        fail(ec, d.to);
        return false;
      }
      d.close_notify = true;
      d.begin = 0;
      d.ready = d.end = alert.size();
      return true;
    }
    shard_.buffers().release(std::move(d.buf));
    tls_socket::result r = d.to->try_shutdown();
    if (r.ec) {
      fail(r.ec, d.to);
      return false;
    }
    d.done = true;
    if (other(d).done) finish(end_reason::peer_closed);
    return false;
  }
  if (d.drained) {
    // The last receive emptied the socket: wait rather than ask again (one recv per
    // message saved; the wait re-arms the descriptor, which reports what came since).
    d.drained = false;
    return wait_to_receive(d);
  }
  if (!d.buf) d.buf = shard_.buffers().acquire();
  base = reinterpret_cast<std::uint8_t*>(d.buf.get());
  const std::size_t room = shard_.buffers().size() - d.end;
  tls_socket::result r = d.from->try_receive(base + d.end, room);
  if (r.bytes > 0) {
    d.drained = r.bytes < room;
    d.end += r.bytes;
    const tls12::reseal_result done =
        tls12::reseal(std::span(base + d.ready, d.end - d.ready), *d.open, *d.seal, records_->max_plaintext);
    d.ready += done.ready;
    if (done.plaintext > 0) {
      d.bytes += done.plaintext;
      shard_.counters().add(bytes_counter(d), done.plaintext);
      last_activity_ = clock::now();
    }
    if (done.ec) {
      fail_record(d, done.ec);
      return false;
    }
    if (done.close_notify) {
      d.from->note_close_notify();
      d.eof = true;
      d.end = d.ready;  // nothing after close_notify counts
      if (!ended_) ended_ = clean_end_of(d.from);
    }
    return true;
  }
  if (r.ec == asio::error::eof) {
    d.eof = true;
    if (!ended_) ended_ = clean_end_of(d.from);
    return true;
  }
  if (r.ec) {
    fail(r.ec, d.from);
    return false;
  }
  return wait_to_receive(d);
}

bool relay_session::wait_to_receive(direction& d) {
  // An idle direction holds no buffer (unless part of a record waits).
  if (d.end == 0) shard_.buffers().release(std::move(d.buf));
  wait(d, *d.from, tls_socket::want::read);
  return false;
}

counter relay_session::bytes_counter(const direction& d) const {
  return &d == &to_module_server_ ? counter::bytes_endpoint_to_module_server : counter::bytes_module_server_to_endpoint;
}

void relay_session::fail_record(direction& d, const std::error_code& ec) {
  // RFC 5246 7.2: the fatal alert to the side that sent the bad record, if the stream
  // towards it is at a record boundary; best effort, then both close as for any TLS error.
  if (const std::uint8_t alert = tls12::alert_for(ec); alert != 0) send_alert_now(other(d), SSL3_AL_FATAL, alert);
  fail(ec, d.from);
}

void relay_session::send_alert_now(direction& d, std::uint8_t level, std::uint8_t description) {
  // Only at a record boundary: an alert inside a half-sent record would garble both.
  if (d.begin != d.ready) return;
  std::array<std::uint8_t, tls12::k_overhead + 2> out{};
  if (!tls12::seal_alert(*d.seal, level, description, out)) d.to->try_send(out.data(), out.size());
}

void relay_session::wait(direction& d, tls_socket& on, tls_socket::want w) {
  on.async_wait(w, guard([this, &d, &on](std::error_code ec) {
                  if (ec) return fail(ec, &on);
                  pump(d);
                }));
}

void relay_session::arm_idle(clock::duration after) {
  idle_timer_.expires_after(after);
  idle_timer_.async_wait(guard([this](std::error_code ec) {
    if (ec) return;
    // Activity only stamps a time; the timer re-arms lazily for what is left.
    const auto idle = config_->settings.idle_timeout;
    const auto quiet = clock::now() - last_activity_;
    if (quiet >= idle) {
      return close(end_reason::idle_timeout);
    }
    arm_idle(idle - quiet);
  }));
}

void relay_session::fail(const std::error_code& ec, const tls_socket* on) {
  if (closed_) return;
  // PROTOCOL.md 3.5: a reset, TLS error or write failure closes both sides. Pass it on
  // as a reset, not a close_notify, so the other side cannot mistake it for a clean end.
  shard_.record_error(role::endpoint, asio::ip::address(),
                      str_cat("session ", id_.prefix(), " failed: ", tls_reason_name(ec)));
  if (endpoint_) endpoint_->reset();
  if (module_server_) module_server_->reset();
  // A peer's reset (or a write into one) is the peer's doing; anything else (a TLS error,
  // a bad record, a failed adoption) is counted as an error.
  const bool peer_reset = ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
                          ec == std::errc::connection_reset || ec == std::errc::broken_pipe;
  // The failure, not an earlier clean end of one direction, is what ended the session.
  ended_ = termination{side_of(on), peer_reset                        ? termination::how::reset
                                    : ec.category() == tls_category() ? termination::how::tls_error
                                                                      : termination::how::error};
  finish(peer_reset ? end_reason::reset : end_reason::error);
}

void relay_session::close(end_reason why) {
  if (closed_) return;
  // Best effort: a close_notify + FIN where the socket takes it at once; no waiting.
  if (records_) {
    for (direction* d : {&to_endpoint_, &to_module_server_}) {
      if (d->done) continue;
      if (!d->close_notify) send_alert_now(*d, SSL3_AL_WARNING, SSL_AD_CLOSE_NOTIFY);
      d->to->try_shutdown();
    }
  } else {
    if (endpoint_ && !to_endpoint_.done) endpoint_->try_shutdown();
    if (module_server_ && !to_module_server_.done) module_server_->try_shutdown();
  }
  finish(why);
}

void relay_session::finish(end_reason why) {
  if (closed_) return;
  closed_ = true;
  idle_timer_.cancel();
  if (endpoint_) endpoint_->close();
  if (module_server_) module_server_->close();
  shard_.buffers().release(std::move(to_module_server_.buf));
  shard_.buffers().release(std::move(to_endpoint_.buf));
  shard_.shared().live_sessions.fetch_sub(1, std::memory_order_relaxed);
  shard_.counters().add(counter::sessions_ended, why);
  const double lived = started_ ? std::chrono::duration<double>(clock::now() - started_at_).count() : 0;
  if (started_) shard_.counters().observe(histogram_id::session_duration, lived);
  if (started_ && log_ != session_log_mode::off) {
    log_session_ended(record_, lived, to_module_server_.bytes, to_endpoint_.bytes, termination_of(why), why);
  }
  maybe_destroy();
}

}  // namespace zp::proxy
