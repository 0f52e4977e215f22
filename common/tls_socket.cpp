#include "common/tls_socket.hpp"

#include "common/tls12_keys.hpp"
#include "common/tls_error.hpp"

#include <openssl/err.h>
#include <asio/error.hpp>

#include <atomic>
#include <utility>

namespace zp {
namespace {

std::atomic<std::uint64_t> g_open_connections{0};

// One descriptor closed that a tls_socket (or its released form) held.
void closed_one() { g_open_connections.fetch_sub(1, std::memory_order_relaxed); }

// The SSL's ex_data slot that is non-null once a close_notify was read; it travels with
// the SSL* when a connection moves to another worker.
int close_notify_slot() {
  static const int slot = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return slot;
}

void note_alerts(const SSL* ssl, int where, int value) {
  if ((where & SSL_CB_READ_ALERT) != 0 && (value & 0xff) == SSL_AD_CLOSE_NOTIFY) {
    static int marker;
    SSL_set_ex_data(const_cast<SSL*>(ssl), close_notify_slot(), &marker);
  }
}

}  // namespace

std::uint64_t open_tls_connections() { return g_open_connections.load(std::memory_order_relaxed); }

tls_socket::tls_socket(asio::ip::tcp::socket socket, SSL_CTX* ctx, bool server)
    : socket_(std::move(socket)), ssl_(SSL_new(ctx)) {
  if (socket_.is_open()) g_open_connections.fetch_add(1, std::memory_order_relaxed);
  socket_.non_blocking(true);
  SSL_set_fd(ssl_.get(), static_cast<int>(socket_.native_handle()));
  SSL_set_info_callback(ssl_.get(), note_alerts);
  count_records(ssl_.get());  // from the first record: the relay may take the keys later
  if (server) {
    SSL_set_accept_state(ssl_.get());
  } else {
    SSL_set_connect_state(ssl_.get());
  }
}

tls_socket::released::released(released&& other) noexcept
    : fd(std::exchange(other.fd, k_no_socket)),
      ssl(std::move(other.ssl)),
      protocol(other.protocol),
      sent_shutdown(other.sent_shutdown),
      faults(std::move(other.faults)) {}

tls_socket::released& tls_socket::released::operator=(released&& other) noexcept {
  if (this != &other) {
    if (fd != k_no_socket) {
      close_socket_handle(fd);
      closed_one();
    }
    fd = std::exchange(other.fd, k_no_socket);
    ssl = std::move(other.ssl);
    protocol = other.protocol;
    sent_shutdown = other.sent_shutdown;
    faults = std::move(other.faults);
  }
  return *this;
}

tls_socket::released::~released() {
  ssl.reset();
  if (fd != k_no_socket) {
    close_socket_handle(fd);
    closed_one();
  }
}

tls_socket::tls_socket(asio::io_context& io, released&& from)
    : socket_(io), ssl_(std::move(from.ssl)), faults_(std::move(from.faults)), sent_shutdown_(from.sent_shutdown) {
  std::error_code ec = injected(io_faults::op::adopt);
  if (!ec) socket_.assign(from.protocol, from.fd, ec);
  if (ec) {
    // Not expected for a valid fd (assign only registers it with the reactor). Close the
    // connection now and detach the SSL* from the fd number, so every operation here
    // fails (EBADF) instead of touching a descriptor this object does not own.
    if (from.fd != k_no_socket) {
      close_socket_handle(std::exchange(from.fd, k_no_socket));
      closed_one();
    }
    if (ssl_) SSL_set_fd(ssl_.get(), -1);
    return;
  }
  from.fd = k_no_socket;
  // The socket is non-blocking already (that belongs to the socket and survives the
  // release), but asio does not know it: it would set it itself, with the same system
  // call, at the first wait, and meanwhile treat it as blocking in synchronous calls.
  socket_.non_blocking(true, ec);
}

tls_socket::released tls_socket::release() {
  std::error_code ec;
  auto local = socket_.local_endpoint(ec);
  return release(ec ? asio::ip::tcp::v4() : local.protocol());
}

tls_socket::released tls_socket::release(asio::ip::tcp protocol) {
  released out;
  std::error_code ec;
  out.protocol = protocol;
  const bool was_open = socket_.is_open();
  out.fd = was_open ? socket_.release(ec) : k_no_socket;
  if (ec) {
    // Not detached: if asio closed it, it is gone; if not, our close() counts it later.
    out.fd = k_no_socket;
    if (was_open && !socket_.is_open()) closed_one();
  }
  out.ssl = std::move(ssl_);
  out.sent_shutdown = sent_shutdown_;
  out.faults = std::move(faults_);
  return out;
}

void tls_socket::reset() {
  if (!socket_.is_open()) return;
  std::error_code ignored;
  socket_.set_option(asio::socket_base::linger(true, 0), ignored);
  close();
}

tls_socket::result tls_socket::classify(int ssl_ret, std::size_t bytes) {
  result r;
  r.bytes = bytes;
  int err = SSL_get_error(ssl_.get(), ssl_ret);
  switch (err) {
    case SSL_ERROR_WANT_READ:
      r.wait = want::read;
      break;
    case SSL_ERROR_WANT_WRITE:
      r.wait = want::write;
      break;
    case SSL_ERROR_ZERO_RETURN:
      // close_notify, or (SSL_OP_IGNORE_UNEXPECTED_EOF) a bare FIN: both are an end
      // of stream per PROTOCOL.md 3.5.
      r.ec = asio::error::eof;
      break;
    case SSL_ERROR_SYSCALL: {
      const std::error_code e = last_socket_error();
      ERR_clear_error();
      r.ec = e ? e : std::error_code(asio::error::eof);
      break;
    }
    default:
      r.ec = take_tls_error();
      break;
  }
  return r;
}

tls_socket::result tls_socket::try_handshake() {
  if (auto ec = injected(io_faults::op::handshake)) return {.ec = ec};
  ERR_clear_error();
  int ret = SSL_do_handshake(ssl_.get());
  if (ret == 1) {
    last_read_wanted_more_ = false;
    return {};
  }
  result r = classify(ret, 0);
  last_read_wanted_more_ = r.wait == want::read;
  return r;
}

tls_socket::result tls_socket::try_read(void* data, std::size_t size) {
  if (auto ec = injected(io_faults::op::read)) return {.ec = ec};
  auto* out = static_cast<char*>(data);
  std::size_t total = 0;
  // SSL_read_ex returns one record at a time; keep going while records are ready so
  // the caller moves a full buffer per readiness event.
  while (total < size) {
    ERR_clear_error();
    std::size_t n = 0;
    int ret = SSL_read_ex(ssl_.get(), out + total, size - total, &n);
    if (ret == 1) {
      total += n;
      continue;
    }
    // Bytes already read win: an end of stream or error is reported by the next call.
    last_read_wanted_more_ = SSL_get_error(ssl_.get(), ret) == SSL_ERROR_WANT_READ;  // only peeks
    if (total > 0) return {.ec = {}, .bytes = total, .wait = want::nothing};
    return classify(ret, 0);
  }
  last_read_wanted_more_ = false;  // the buffer filled: OpenSSL may hold more records
  return {.ec = {}, .bytes = total, .wait = want::nothing};
}

tls_socket::result tls_socket::try_write(const void* data, std::size_t size) {
  if (auto ec = injected(io_faults::op::write)) return {.ec = ec};
  const auto* in = static_cast<const char*>(data);
  std::size_t total = 0;
  while (total < size) {
    ERR_clear_error();
    std::size_t n = 0;
    int ret = SSL_write_ex(ssl_.get(), in + total, size - total, &n);
    if (ret == 1) {
      total += n;
      continue;
    }
    return classify(ret, total);
  }
  return {.ec = {}, .bytes = total, .wait = want::nothing};
}

tls_socket::result tls_socket::try_shutdown() {
  // After the hand-off (no SSL*) the close_notify was the record layer's, and it asked
  // shutdown_fault before sealing it: only the FIN is left.
  if (ssl_) {
    if (auto ec = injected(io_faults::op::shutdown)) return {.ec = ec};
    if (!sent_shutdown_) {
      ERR_clear_error();
      int ret = SSL_shutdown(ssl_.get());
      if (ret < 0) {
        result r = classify(ret, 0);
        if (r.wait != want::nothing) return r;
        // The peer is gone or broke the protocol: there is nobody to notify, but still
        // send the FIN below so the socket ends cleanly.
      }
      sent_shutdown_ = true;
    }
  }
  std::error_code ignored;
  socket_.shutdown(asio::socket_base::shutdown_send, ignored);
  return {};
}

void tls_socket::close() {
  if (!socket_.is_open()) return;
  std::error_code ignored;
  socket_.close(ignored);
  closed_one();
}

X509* tls_socket::peer_certificate() const { return ssl_ ? SSL_get0_peer_certificate(ssl_.get()) : nullptr; }

bool tls_socket::received_close_notify() const {
  return close_notify_after_handoff_ || (ssl_ && SSL_get_ex_data(ssl_.get(), close_notify_slot()) != nullptr);
}

tls_socket::result tls_socket::try_receive(void* data, std::size_t size) {
  if (auto ec = injected(io_faults::op::read)) return {.ec = ec};
  std::error_code ec;
  const std::size_t n = socket_.read_some(asio::buffer(data, size), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again) return {.ec = {}, .bytes = 0, .wait = want::read};
  return {.ec = ec, .bytes = n, .wait = want::nothing};
}

tls_socket::result tls_socket::try_send(const void* data, std::size_t size) {
  if (auto ec = injected(io_faults::op::write)) return {.ec = ec};
  std::error_code ec;
  const std::size_t n = socket_.write_some(asio::buffer(data, size), ec);
  if (ec == asio::error::would_block || ec == asio::error::try_again)
    return {.ec = {}, .bytes = 0, .wait = want::write};
  if (!ec && n < size) return {.ec = {}, .bytes = n, .wait = want::write};
  return {.ec = ec, .bytes = n, .wait = want::nothing};
}

bool tls_socket::holds_received_bytes() const {
  return ssl_ && (SSL_pending(ssl_.get()) != 0 || SSL_has_pending(ssl_.get()) != 0);
}

void tls_socket::stop_read_ahead() {
  if (ssl_) SSL_set_read_ahead(ssl_.get(), 0);
}

absl::StatusOr<tls12_traffic_keys> tls_socket::export_keys() const {
  if (!ssl_) return absl::FailedPreconditionError("no TLS engine");
  return export_tls12_keys(ssl_.get());
}

void tls_socket::drop_tls() {
  close_notify_after_handoff_ = received_close_notify();
  // Freed now: an idle connection keeps nothing of OpenSSL (ARCHITECTURE.md "The record layer").
  ssl_.reset();
  last_read_wanted_more_ = false;
}

}  // namespace zp
