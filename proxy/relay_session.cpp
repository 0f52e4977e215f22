#include "proxy/relay_session.hpp"

#include "common/log.hpp"
#include "common/strings.hpp"
#include "common/tls_error.hpp"
#include "proxy/worker_shard.hpp"

#include <spdlog/spdlog.h>
#include <asio/error.hpp>
#include <asio/post.hpp>

namespace zp::proxy {
namespace {

constexpr std::string_view k_switching =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n";
// Read/write rounds one direction may run before yielding to other connections on the
// worker: enough to move a few buffers per wake-up, few enough to stay fair.
constexpr int k_rounds_per_turn = 16;

}  // namespace

relay_session::relay_session(worker_shard& shard, session_id id, std::shared_ptr<const data_plane_config> config,
                             clock::time_point paired_at, role local_role, half_handoff local)
    : deferred_deletion(shard, /*initially_pending=*/1),  // the remote handoff (I3)
      id_(id),
      config_(std::move(config)),
      paired_at_(paired_at),
      idle_timer_(shard.io()) {
  shard_.shared().live_sessions.fetch_add(1, std::memory_order_relaxed);
  shard_.counters().add(counter::sessions_paired);
  take(local_role, std::move(local));
}

relay_session::~relay_session() = default;

void relay_session::adopt_remote(half_handoff&& half) {
  operation_done();
  if (half.from_worker != shard_.index()) shard_.counters().add(counter::sessions_migrated);
  if (closed_) {
    // Killed before the peer arrived: the handoff's destructor closes its fd.
    return maybe_destroy();
  }
  take(endpoint_half_ ? role::module_server : role::endpoint, std::move(half));
  start();
}

void relay_session::take(role r, half_handoff&& half) {
  if (r == role::module_server) {
    ms_cert_sha256_ = half.cert_sha256;
    module_server_address_ = half.remote.address().to_string();
  } else {
    endpoint_address_ = half.remote.address().to_string();
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
  shard_.counters().observe(histogram_id::pairing_latency,
                            std::chrono::duration<double>(started_at_ - paired_at_).count());
  SPDLOG_DEBUG("event=session_paired session={} worker={} endpoint={}", id_.prefix(), shard_.index(),
               e.remote.address().to_string());
  if (e.stream == half_stream::failed || m.stream == half_stream::failed) return fail(asio::error::connection_reset);
  // A revocation that landed while the Module Server half was on its way here found it in
  // no list (PROTOCOL.md 4.2: its sessions are closed).
  if (config_->is_revoked && config_->is_revoked(m.cert_sha256)) {
    SPDLOG_DEBUG("event=session_refused session={} reason=revoked_certificate", id_.prefix());
    return close(end_reason::revoked);
  }

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
  setup(to_module_server_, *endpoint_, *module_server_, e);
  setup(to_endpoint_, *module_server_, *endpoint_, m);

  if (config_->settings.idle_timeout.count() > 0) arm_idle(config_->settings.idle_timeout);
  pump(to_module_server_);
  if (!closed_) pump(to_endpoint_);
}

bool relay_session::module_server_trusted(const std::function<bool(X509*, STACK_OF(X509) *)>& test) const {
  if (!module_server_ || module_server_->ssl() == nullptr) return true;  // not started: checked at start
  X509* leaf = module_server_->peer_certificate();
  return leaf == nullptr || test(leaf, SSL_get_peer_cert_chain(module_server_->ssl()));
}

std::optional<session_info> relay_session::info() const {
  if (closed_) return std::nullopt;
  session_info i;
  i.id_prefix = id_.prefix();
  i.state = "live";
  i.endpoint_address = endpoint_address_;
  i.module_server_address = module_server_address_;
  i.bytes_endpoint_to_module_server = to_module_server_.bytes;
  i.bytes_module_server_to_endpoint = to_endpoint_.bytes;
  i.age_s = std::chrono::duration<double>(clock::now() - paired_at_).count();
  return i;
}

void relay_session::pump(direction& d) {
  for (int round = 0; round < k_rounds_per_turn; ++round) {
    if (closed_ || d.done) return;
    if (d.preface_off < d.preface.size()) {
      tls_socket::result r = d.to->try_write(d.preface.data() + d.preface_off, d.preface.size() - d.preface_off);
      d.preface_off += r.bytes;
      if (r.ec) return fail(r.ec);
      if (r.wait != tls_socket::want::nothing) return wait(d, *d.to, r.wait);
      std::string().swap(d.preface);  // its memory is not needed again
      d.preface_off = 0;
      continue;
    }
    if (d.begin < d.end) {
      tls_socket::result r = d.to->try_write(d.buf.get() + d.begin, d.end - d.begin);
      d.begin += r.bytes;
      if (r.ec) return fail(r.ec);
      if (r.wait != tls_socket::want::nothing) return wait(d, *d.to, r.wait);
      d.begin = d.end = 0;
      continue;
    }
    if (d.eof) {
      // PROTOCOL.md 3.5: everything is delivered; pass the end of stream on
      // (close_notify + FIN) and keep relaying the other direction.
      shard_.buffers().release(std::move(d.buf));
      tls_socket::result r = d.to->try_shutdown();
      if (r.ec) return fail(r.ec);  // PROTOCOL.md 3.5: a write failure closes both sides
      if (r.wait != tls_socket::want::nothing) return wait(d, *d.to, r.wait);
      d.done = true;
      if (other(d).done) finish(end_reason::peer_closed);
      return;
    }
    if (!d.buf) d.buf = shard_.buffers().acquire();
    tls_socket::result r = d.from->try_read(d.buf.get(), shard_.buffers().size());
    if (r.bytes > 0) {
      d.end = r.bytes;
      d.bytes += r.bytes;
      shard_.counters().add(&d == &to_module_server_ ? counter::bytes_endpoint_to_module_server
                                                     : counter::bytes_module_server_to_endpoint,
                            r.bytes);
      last_activity_ = clock::now();
      continue;
    }
    if (r.ec == asio::error::eof) {
      d.eof = true;
      continue;
    }
    if (r.ec) return fail(r.ec);
    // Nothing to read: hand the empty buffer back so an idle session holds none.
    shard_.buffers().release(std::move(d.buf));
    return wait(d, *d.from, r.wait);
  }
  // Still busy after a full turn: yield, and continue after the worker's other work.
  asio::post(shard_.io(), guard([this, &d] { pump(d); }));
}

void relay_session::wait(direction& d, tls_socket& on, tls_socket::want w) {
  on.async_wait(w, guard([this, &d](std::error_code ec) {
                  if (ec) return fail(ec);
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

void relay_session::fail(const std::error_code& ec) {
  if (closed_) return;
  // PROTOCOL.md 3.5: a reset, TLS error or write failure closes both sides. Pass it on
  // as a reset, not a close_notify, so the other side cannot mistake it for a clean end.
  SPDLOG_DEBUG("event=session_failed session={} reason={}", id_.prefix(), tls_reason_name(ec));
  shard_.record_error(role::endpoint, asio::ip::address(),
                      str_cat("session ", id_.prefix(), " failed: ", tls_reason_name(ec)));
  if (endpoint_) endpoint_->reset();
  if (module_server_) module_server_->reset();
  // A peer's reset (or a write into one) is the peer's doing; anything else (a TLS error,
  // a bad record, a failed adoption) is counted as an error.
  const bool peer_reset = ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
                          ec == std::errc::connection_reset || ec == std::errc::broken_pipe;
  finish(peer_reset ? end_reason::reset : end_reason::error);
}

void relay_session::close(end_reason why) {
  if (closed_) return;
  // Best effort: a close_notify + FIN where the socket takes it at once; no waiting.
  if (endpoint_ && !to_endpoint_.done) endpoint_->try_shutdown();
  if (module_server_ && !to_module_server_.done) module_server_->try_shutdown();
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
  // One line per ended session, for the operator's record; at most one per second per
  // worker under churn (the count of those left out is in the next line, the counters
  // have them all).
  if (std::uint64_t suppressed = 0; shard_.session_log().allow(suppressed)) {
    spdlog::info(
        "event=session_ended session={} endpoint={} module_server={} duration_s={:.3f} bytes_to_module_server={} "
        "bytes_to_endpoint={} reason={} suppressed={}",
        id_.prefix(), log::q(endpoint_address_), log::q(module_server_address_), lived, to_module_server_.bytes,
        to_endpoint_.bytes, end_reason_name(why), suppressed);
  }
  maybe_destroy();
}

}  // namespace zp::proxy
