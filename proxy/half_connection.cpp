// Over 400 lines on purpose: a half's life before pairing (PROXY header, handshake, hello,
// waiting, the error answer) is one state machine whose phases share all of its state.
#include "proxy/half_connection.hpp"

#include "common/acceptor.hpp"
#include "common/fingerprint.hpp"
#include "common/http_response.hpp"
#include "common/log.hpp"
#include "common/socket_handle.hpp"
#include "common/strings.hpp"
#include "common/tls_error.hpp"
#include "proxy/proxy_header.hpp"
#include "proxy/relay_session.hpp"
#include "proxy/worker_shard.hpp"

#include <openssl/err.h>
#include <spdlog/spdlog.h>
#include <asio/error.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <array>

namespace zp::proxy {
namespace {

// Reads are staged through this much stack space before landing in the parser or the
// early-data buffer; the bounds below decide how much is asked for.
constexpr std::size_t k_read_chunk = 16 * 1024;
// How long an error response may take to go out, and how much the client may still
// send while we linger so our close does not turn into a reset that eats the response.
constexpr auto k_respond_deadline = std::chrono::seconds(5);
constexpr std::size_t k_max_linger_bytes = 256 * 1024;
// Handshake and hello of a connection accepted into the descriptor reserve (PROTOCOL.md
// 3.6): a Module Server completing a pairing needs well under this.
constexpr std::chrono::seconds k_reserve_hello_timeout{2};

handshake_failure classify_handshake(const std::error_code& ec, SSL* ssl) {
  if (ec == asio::error::eof || ec == asio::error::connection_reset || ec == asio::error::broken_pipe) {
    return handshake_failure::closed;
  }
  if (ec.category() != tls_category()) return handshake_failure::other;
  switch (ERR_GET_REASON(static_cast<unsigned long>(ec.value()))) {
    case SSL_R_UNSUPPORTED_PROTOCOL:
    case SSL_R_WRONG_VERSION_NUMBER:
    case SSL_R_UNKNOWN_PROTOCOL:
    case SSL_R_VERSION_TOO_LOW:
    case SSL_R_VERSION_TOO_HIGH:
    case SSL_R_HTTP_REQUEST:
      return handshake_failure::protocol_version;
    case SSL_R_NO_SHARED_CIPHER:
    case SSL_R_NO_SHARED_GROUPS:
      return handshake_failure::no_shared_cipher;
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
      return handshake_failure::no_certificate;
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
      return SSL_get_verify_result(ssl) == X509_V_ERR_CERT_REVOKED ? handshake_failure::revoked_certificate
                                                                   : handshake_failure::bad_certificate;
    default:
      return handshake_failure::other;
  }
}

}  // namespace

half_connection::half_connection(worker_shard& shard, role side, asio::ip::tcp::socket socket,
                                 const asio::ip::tcp::endpoint& remote, std::shared_ptr<const data_plane_config> config,
                                 admission_limits::ticket ticket, bool in_fd_reserve)
    : deferred_deletion(shard),
      side_(side),
      in_fd_reserve_(in_fd_reserve),
      config_(std::move(config)),
      remote_(remote),
      protocol_(remote.protocol()),
      tls_(std::move(socket), side == role::endpoint ? config_->endpoint_ctx.get() : config_->module_server_ctx.get()),
      timer_(shard.io()),
      parser_(make_hello_parser()),
      admitting_(std::move(ticket)) {
  set_data_connection_options(tls_.socket(), config_->settings.keepalive);
  if (const auto& faults = shard.shared().faults) tls_.set_faults(faults(side));
}

half_connection::~half_connection() = default;

void half_connection::set_phase(phase next) {
  const auto in_table = [](phase p) { return p == phase::waiting || p == phase::claimed; };
  if (in_table(phase_) && !in_table(next)) {
    // Out of the table: its early data no longer counts against max_early_data_bytes
    // (the session holds it now, or it is dropped), and nobody needs to watch the socket.
    shard_.shared().admit.drop_early_data(early_.size());
    if (watched_) shard_.hangups().unwatch(tls_.socket().native_handle());
    watched_ = false;
    pending_slot_.release();
  } else if (!in_table(phase_) && in_table(next)) {
    shard_.shared().admit.hold_early_data(early_.size());
    admitting_.release();  // PROTOCOL.md 3.6: waiting is bounded by the pending limits
  }
  if (next == phase::done) admitting_.release();
  phase_ = next;
}

void half_connection::finish() {
  set_phase(phase::done);
  ++timer_generation_;
  timer_.cancel();
  tls_.close();
  maybe_destroy();
}

void half_connection::arm(std::chrono::steady_clock::duration d, void (half_connection::*on_expiry)()) {
  const std::uint64_t generation = ++timer_generation_;
  timer_.expires_after(d);
  timer_.async_wait(guard([this, generation, on_expiry](std::error_code ec) {
    if (ec || generation != timer_generation_) return;  // cancelled or re-armed
    (this->*on_expiry)();
  }));
}

void half_connection::wait_then(tls_socket::want w, void (half_connection::*next)()) {
  tls_.async_wait(w, guard([this, next](std::error_code ec) {
                    if (ec) return finish();  // our close, or the socket failed: nobody to answer
                    (this->*next)();
                  }));
}

std::chrono::seconds half_connection::hello_deadline() const {
  // A connection in the descriptor reserve must show soon that it is a second half: a
  // silent one there would keep the reserve from the second halves it exists for.
  return in_fd_reserve_ ? std::min(config_->settings.hello_timeout, k_reserve_hello_timeout)
                        : config_->settings.hello_timeout;
}

void half_connection::start() {
  // PROTOCOL.md 3.2: hello_timeout also bounds the handshake (3.7: and a PROXY header).
  arm(hello_deadline(), &half_connection::on_handshake_or_hello_timeout);
  if (side_ == role::endpoint && config_->settings.from_balancer(remote_.address())) {
    set_phase(phase::proxy_header);
    return do_read_proxy_header();
  }
  do_handshake();
}

void half_connection::do_read_proxy_header() {
  // Plain reads of exactly the bytes the header still needs: what follows it is the TLS
  // handshake, which OpenSSL must read from the socket itself.
  for (;;) {
    const proxy_header_verdict v = parse_proxy_header(proxy_header_);
    if (v.what == proxy_header_verdict::kind::need_more) {
      const std::size_t have = proxy_header_.size();
      proxy_header_.resize(v.size);
      // The socket is non-blocking (tls_socket): no data yet is would_block.
      std::error_code ec;
      const std::size_t n = tls_.socket().receive(asio::buffer(proxy_header_.data() + have, v.size - have), 0, ec);
      proxy_header_.resize(have + n);
      if (!ec && n > 0) continue;
      if (ec == asio::error::would_block || ec == asio::error::try_again || ec == asio::error::interrupted) {
        return wait_then(tls_socket::want::read, &half_connection::do_read_proxy_header);
      }
      return finish();  // the balancer hung up or the socket failed: nobody to answer
    }
    // PROTOCOL.md 3.7: no valid header, or one over 536 bytes: closed with no response.
    if (v.what == proxy_header_verdict::kind::invalid) {
      shard_.refuse(side_, remote_.address(), reject_reason::proxy_header);
      return finish();
    }
    // From here on the client is who the balancer says (LOCAL: the balancer itself), for
    // the per-source limits, the logs and /v1/sessions.
    if (v.what == proxy_header_verdict::kind::proxied) remote_ = v.source;
    if (!shard_.shared().admit.attach_source(remote_.address(), config_->settings, admitting_)) {
      shard_.refuse(side_, remote_.address(), reject_reason::admitting_per_source);
      return finish();
    }
    std::vector<std::uint8_t>().swap(proxy_header_);  // its memory too: sessions are long-lived
    set_phase(phase::handshake);
    return do_handshake();
  }
}

void half_connection::do_handshake() {
  tls_socket::result r = tls_.try_handshake();
  if (r.wait != tls_socket::want::nothing) {
    tls_.async_wait(r.wait, guard([this](std::error_code ec) {
                      if (ec) return on_handshake_failed(ec);
                      do_handshake();
                    }));
    return;
  }
  if (r.ec) return on_handshake_failed(r.ec);
  shard_.counters().observe(histogram_id::handshake_duration,
                            std::chrono::duration<double>(clock::now() - accepted_at_).count());
  if (const std::size_t suite = suite_index(SSL_CIPHER_get_name(SSL_get_current_cipher(tls_.ssl())));
      suite < std::size(k_suites)) {
    shard_.counters().add(counter::handshakes, side_, suite);
  }
  if (side_ == role::module_server) {
    if (X509* cert = tls_.peer_certificate()) cert_sha256_ = cert_sha256_hex(cert);
    // Revoked after the handshake's own check but before its end (PROTOCOL.md 4.2).
    if (config_->is_revoked && config_->is_revoked(cert_sha256_)) {
      shard_.counters().add(counter::handshake_failures, side_, handshake_failure::revoked_certificate);
      return finish();
    }
  }
  set_phase(phase::hello);
  // PROTOCOL.md 3.2: the hello must be complete within hello_timeout of the handshake.
  arm(hello_deadline(), &half_connection::on_handshake_or_hello_timeout);
  do_read_hello();
}

void half_connection::on_handshake_failed(const std::error_code& ec) {
  const handshake_failure why = classify_handshake(ec, tls_.ssl());
  shard_.counters().add(counter::handshake_failures, side_, why);
  if (why != handshake_failure::closed) {
    shard_.record_error(side_, remote_.address(), str_cat("tls handshake: ", handshake_failure_name(why)));
  }
  // At most one line per 10 s per worker, with how many were left out: scanners and
  // misconfigured clients must not flood the log; the counter
  // (zoneproxy_tls_handshake_failures_total) keeps the exact tally, by reason. A client
  // that just went away is no failure worth a line.
  if (std::uint64_t suppressed = 0; why != handshake_failure::closed && shard_.handshake_log().allow(suppressed)) {
    spdlog::info("event=handshake_failed listener={} peer={} reason={} detail={} suppressed={}", role_name(side_),
                 remote_.address().to_string(), handshake_failure_name(why), log::q(ec.message()), suppressed);
  }
  finish();
}

void half_connection::on_handshake_or_hello_timeout() {
  if (phase_ == phase::proxy_header) {
    shard_.refuse(side_, remote_.address(), reject_reason::proxy_header);  // PROTOCOL.md 3.7: no response
    return finish();
  }
  if (phase_ == phase::handshake) {
    shard_.counters().add(counter::handshake_failures, side_, handshake_failure::timeout);
    return finish();
  }
  // PROTOCOL.md 3.4: a 408 when the TLS session is up.
  respond(k_hello_timeout);
}

void half_connection::do_read_hello() {
  std::array<char, k_read_chunk> chunk;
  while (phase_ == phase::hello) {
    // Never ask for more than the rest of the head plus the early-data room, so early_
    // stays within k_max_early_data however the bytes arrive.
    const std::size_t room = k_max_hello_head + (k_max_early_data - early_.size());
    tls_socket::result r = tls_.try_read(chunk.data(), std::min(chunk.size(), room));
    if (r.bytes > 0) {
      std::string_view data(chunk.data(), r.bytes);
      const std::size_t used = parser_.feed(data);
      if (parser_.current() != http_request_parser::state::need_more) {
        early_.append(data.substr(used));
        return on_hello();
      }
      continue;
    }
    if (r.wait != tls_socket::want::nothing) {
      return wait_then(r.wait, &half_connection::do_read_hello);
    }
    // The client left (or broke TLS) before finishing its hello: nobody to answer.
    return finish();
  }
}

void half_connection::on_hello() {
  ++timer_generation_;
  timer_.cancel();
  hello_done_at_ = clock::now();
  auto checked = check_hello(parser_);
  if (auto* error = std::get_if<hello_error>(&checked)) return respond(*error);
  id_ = std::get<session_id>(checked);
  plane_shared& shared = shard_.shared();
  const session_settings& settings = config_->settings;
  if (shared.draining.load(std::memory_order_acquire)) return respond(k_draining);
  if (shared.live_sessions.load(std::memory_order_relaxed) >= settings.max_sessions) return respond(k_unavailable);
  // PROTOCOL.md 3.6: max_pending as set now, up or down (the table's own capacity is
  // only a ceiling, see data_plane::start).
  if (shared.table->waiting(role::endpoint) + shared.table->waiting(role::module_server) >= settings.max_pending) {
    return respond(k_unavailable);
  }
  if (side_ == role::endpoint) {
    pending_slot_ = shared.pending_per_source.try_acquire(remote_.address(), settings.max_pending_per_source);
    if (!pending_slot_) return respond(k_too_many_pending);
  }
  // Set before arriving: once stored, a claim may be posted to this worker (it runs after
  // this function returns) and finds us waiting.
  set_phase(phase::waiting);
  switch (rendezvous::arrive(*this)) {
    case rendezvous::outcome::paired:
      return;  // handed over to the session
    case rendezvous::outcome::waiting:
      // PROTOCOL.md 3.6: a connection accepted into the descriptor reserve may only be a
      // second half. It found no peer, so it leaves again (or was claimed meanwhile).
      if (in_fd_reserve_) return stop_waiting(&k_unavailable);
      arm(settings.pair_timeout, &half_connection::on_pair_timeout);
      return read_while_waiting();
    case rendezvous::outcome::conflict:
      return respond(k_conflict);
    case rendezvous::outcome::full:
      return respond(k_unavailable);
  }
}

half_handoff half_connection::hand_over() {
  set_phase(phase::done);
  ++timer_generation_;
  timer_.cancel();
  half_handoff h;
  h.remote = remote_;
  h.early_data = std::move(early_);
  h.cert_sha256 = std::move(cert_sha256_);
  h.stream = stream_;
  h.from_worker = shard_.index();
  h.hello_at = hello_done_at_;
  h.connection = tls_.release(protocol_);  // our pending read wait completes with operation_aborted
  maybe_destroy();
  return h;
}

void half_connection::read_while_waiting() {
  std::array<char, k_read_chunk> chunk;
  admission_limits& admit = shard_.shared().admit;
  while (phase_ == phase::waiting) {
    // PROTOCOL.md 3.2 and 3.6: at most 64 KiB of early data per half and
    // max_early_data_bytes over all, then stop reading (backpressure). Every read also
    // watches for the client leaving (3.3); once reads stop, the hangup watch does.
    const std::size_t room = k_max_early_data - early_.size();
    if (room == 0 || !admit.early_data_room(config_->settings)) return watch_for_hangup();
    tls_socket::result r = tls_.try_read(chunk.data(), std::min(chunk.size(), room));
    if (r.bytes > 0) {
      early_.append(chunk.data(), r.bytes);
      admit.hold_early_data(r.bytes);
      continue;
    }
    if (r.wait != tls_socket::want::nothing) {
      tls_.async_wait(r.wait, guard([this](std::error_code ec) {
                        if (phase_ != phase::waiting) return;  // claimed meanwhile
                        if (ec) {
                          stream_ = half_stream::failed;
                          return stop_waiting(nullptr);
                        }
                        read_while_waiting();
                      }));
      return;
    }
    stream_ = r.ec == asio::error::eof ? half_stream::ended : half_stream::failed;
    return stop_waiting(nullptr);
  }
}

void half_connection::watch_for_hangup() {
  // PROTOCOL.md 3.4: "a waiting half stays watched", also when it is not read. The watch
  // is dropped (set_phase) before the socket is closed or handed over, so `this` is alive
  // whenever the callback runs.
  const socket_handle fd = tls_.socket().native_handle();
  watched_ = shard_.hangups().watch(fd, [this, fd] {
    watched_ = false;
    stream_ = pending_socket_error(fd) ? half_stream::failed : half_stream::ended;
    stop_waiting(nullptr);
  });
}

void half_connection::on_pair_timeout() { stop_waiting(&k_peer_timeout); }

void half_connection::on_drain() {
  if (phase_ == phase::waiting) stop_waiting(&k_draining);
}

void half_connection::stop_waiting(const hello_error* answer) {
  if (phase_ != phase::waiting) return;
  if (!rendezvous::leave(*this)) {
    // A peer claimed us first; its message is on the way and will hand us over (with
    // stream_ telling the session what happened meanwhile).
    set_phase(phase::claimed);
    return;
  }
  if (answer != nullptr && stream_ == half_stream::open) return respond(*answer);
  finish();
}

void half_connection::abort() {
  if (phase_ == phase::waiting && !rendezvous::leave(*this)) {
    set_phase(phase::claimed);  // the claim message still owns the last word
    return;
  }
  if (phase_ != phase::claimed) finish();
}

bool half_connection::kill_if_waiting(const session_id& id) {
  if (phase_ != phase::waiting || !(id_ == id)) return false;
  stop_waiting(nullptr);
  if (phase_ != phase::claimed) finish();
  return true;
}

bool half_connection::close_if_untrusted(const std::function<bool(X509*, STACK_OF(X509) *)>& test) {
  if (cert_sha256_.empty() || phase_ == phase::done || phase_ == phase::claimed) return false;
  X509* leaf = tls_.peer_certificate();
  if (leaf == nullptr || test(leaf, SSL_get_peer_cert_chain(tls_.ssl()))) return false;
  return close_if_certificate(cert_sha256_);
}

bool half_connection::close_if_certificate(const std::string& cert_sha256) {
  if (cert_sha256_.empty() || cert_sha256_ != cert_sha256) return false;
  if (phase_ == phase::waiting) {
    stop_waiting(nullptr);
    if (phase_ != phase::claimed) finish();
    return true;
  }
  if (phase_ == phase::hello || phase_ == phase::responding) {
    finish();
    return true;
  }
  return false;
}

std::optional<session_info> half_connection::info() const {
  if (phase_ != phase::waiting) return std::nullopt;
  session_info i;
  i.id_prefix = id_.prefix();
  i.state = "waiting";
  i.waiting_role = role_name(side_);
  (side_ == role::endpoint ? i.endpoint_address : i.module_server_address) = remote_.address().to_string();
  i.age_s = std::chrono::duration<double>(clock::now() - hello_done_at_).count();
  return i;
}

void half_connection::respond(const hello_error& error) {
  shard_.refuse(side_, remote_.address(), error.reason);
  shard_.record_error(side_, remote_.address(), str_cat(error.status(), " ", error.code()));
  set_phase(phase::responding);
  arm(k_respond_deadline, &half_connection::finish);
  out_ = http_error_response(error.status(), error.code(), error.message);
  out_off_ = 0;
  do_respond_write();
}

void half_connection::do_respond_write() {
  tls_socket::result r;
  if (out_off_ < out_.size()) {
    r = tls_.try_write(out_.data() + out_off_, out_.size() - out_off_);
    out_off_ += r.bytes;
  } else {
    r = tls_.try_shutdown();  // PROTOCOL.md 3.4: close_notify, then FIN
    if (!r.ec && r.wait == tls_socket::want::nothing) return linger_then_close();
  }
  if (r.ec) return finish();
  if (r.wait != tls_socket::want::nothing) {
    return wait_then(r.wait, &half_connection::do_respond_write);
  }
  do_respond_write();
}

void half_connection::linger_then_close() {
  // Read and discard until the client closes: closing with unread bytes would send a
  // reset, which can destroy the response before the client reads it.
  std::array<char, k_read_chunk> chunk;
  while (true) {
    tls_socket::result r = tls_.try_read(chunk.data(), chunk.size());
    lingered_ += r.bytes;
    if (lingered_ > k_max_linger_bytes) return finish();
    if (r.bytes > 0) continue;
    if (r.wait != tls_socket::want::nothing) {
      return wait_then(r.wait, &half_connection::linger_then_close);
    }
    return finish();
  }
}

}  // namespace zp::proxy
