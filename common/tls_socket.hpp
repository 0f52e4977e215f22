#pragma once
// One TLS connection: a TCP socket and the SSL* attached to its fd, driven by readiness.
//
// Owner: whoever holds the tls_socket owns the fd and the SSL*; both die with it.
// The SSL* is bound to the fd number (SSL_set_fd), not to an io_context, so the pair
// can move to another worker by releasing the fd and adopting it there (ARCHITECTURE.md
// "The path of one relayed byte", step 3) — which asio::ssl::stream's memory BIOs cannot do, and which also
// saves their extra copy.
//
// Two layers: try_*() make one non-blocking attempt and say which readiness to wait
// for; async_*() are composed on top for callers that are not on the hot path. The
// relay uses try_*() directly so it controls batching.

#include "common/io_faults.hpp"
#include "common/openssl_ptr.hpp"
#include "common/socket_handle.hpp"
#include "common/tls12_keys.hpp"

#include <absl/status/statusor.h>

#include <asio/ip/tcp.hpp>
#include <asio/post.hpp>

#include <cstddef>
#include <memory>
#include <system_error>
#include <utility>

namespace zp {

/// Connections held by tls_sockets (and their released forms) in this process, for the
/// descriptor reserve of PROTOCOL.md 3.6: one descriptor each, counted from the moment a
/// tls_socket takes a socket until that socket is closed, wherever it moved meanwhile.
std::uint64_t open_tls_connections();

class tls_socket {
 public:
  /// Readiness a try_*() call needs before it can make progress.
  enum class want : std::uint8_t { nothing, read, write };
  /// Outcome of one attempt: `bytes` moved so far, then `ec` or a `wait` to retry.
  struct result {
    std::error_code ec;
    std::size_t bytes = 0;
    want wait = want::nothing;
  };

  /// An fd and its SSL* detached from any io_context, for moving between workers.
  /// Closes the fd on destruction unless adopted.
  struct released {
    socket_handle fd = k_no_socket;
    ssl_ptr ssl;
    asio::ip::tcp protocol = asio::ip::tcp::v4();
    bool sent_shutdown = false;
    std::unique_ptr<io_faults> faults;
    released() = default;
    released(released&& other) noexcept;
    released& operator=(released&& other) noexcept;
    ~released();
  };

  /// Takes ownership of a connected socket and makes a server-side SSL on it.
  tls_socket(asio::ip::tcp::socket socket, SSL_CTX* ctx, bool server = true);
  /// Adopts a released connection into `io` (the target worker's context). If that
  /// fails, the fd is closed and every operation fails cleanly.
  tls_socket(asio::io_context& io, released&& from);
  tls_socket(const tls_socket&) = delete;
  tls_socket& operator=(const tls_socket&) = delete;
  ~tls_socket() { close(); }

  /// One step of the handshake.
  result try_handshake();
  /// Decrypts up to `size` bytes, as many records as are ready; bytes > 0 wins over a
  /// simultaneous end of stream or error (they are reported by the next call).
  result try_read(void* data, std::size_t size);
  /// Encrypts and sends as much of `data` as the socket takes.
  result try_write(const void* data, std::size_t size);
  /// Sends close_notify once, then a TCP FIN (shutdown SHUT_WR); reading stays open.
  /// After the hand-off only the FIN: the caller sent its own close_notify.
  result try_shutdown();

  /// Waits for the readiness a try_*() asked for. Handler: void(std::error_code).
  /// With read-ahead, OpenSSL may hold whole records that arrived with earlier ones (a
  /// hello behind the handshake's last flight, records behind a buffer that filled up):
  /// the socket will not become readable for them. So a read wait completes at once
  /// when OpenSSL holds bytes and the last read step did not end asking for more (then
  /// what it holds is only part of a record, and waiting is right).
  template <typename Handler>
  void async_wait(want w, Handler&& handler) {
    if (w == want::read && !last_read_wanted_more_ && ssl_ && SSL_has_pending(ssl_.get()) == 1) {
      asio::post(socket_.get_executor(),
                 [handler = std::forward<Handler>(handler)]() mutable { handler(std::error_code()); });
      return;
    }
    socket_.async_wait(w == want::write ? asio::socket_base::wait_write : asio::socket_base::wait_read,
                       std::forward<Handler>(handler));
  }

  /// Composed operations. Handler: void(std::error_code, std::size_t). The caller keeps
  /// this object alive until the handler runs (a close() makes it run with
  /// operation_aborted). Completions are always posted, never run inline.
  template <typename Handler>
  void async_handshake(Handler handler) {
    run([this] { return try_handshake(); }, std::move(handler));
  }
  template <typename Handler>
  void async_read_some(asio::mutable_buffer buf, Handler handler) {
    run([this, buf] { return try_read(buf.data(), buf.size()); }, std::move(handler));
  }
  template <typename Handler>
  void async_write(asio::const_buffer buf, Handler handler) {
    run(
        [this, buf, done = std::size_t{0}]() mutable {
          result r = try_write(static_cast<const char*>(buf.data()) + done, buf.size() - done);
          done += r.bytes;
          r.bytes = done;
          if (!r.ec && r.wait == want::nothing && done < buf.size()) r.wait = want::write;
          return r;
        },
        std::move(handler));
  }
  template <typename Handler>
  void async_shutdown(Handler handler) {
    run([this] { return try_shutdown(); }, std::move(handler));
  }

  /// After the hand-off (drop_tls): one non-blocking receive or send of raw bytes (TLS
  /// records the caller protects itself). A receive of 0 bytes is asio::error::eof.
  result try_receive(void* data, std::size_t size);
  result try_send(const void* data, std::size_t size);

  /// Whether OpenSSL holds bytes this connection received and nobody read yet: decrypted
  /// ones, or raw ones (part of a record, or records behind a read-ahead).
  bool holds_received_bytes() const;
  /// From now on OpenSSL reads one record at a time and never past it, so that at every
  /// record boundary it holds nothing (what export_keys needs).
  void stop_read_ahead();
  /// The hand-off, step 1: this connection's TLS 1.2 traffic keys
  /// (common/tls12_keys.hpp); nothing changes, OpenSSL may go on.
  absl::StatusOr<tls12_traffic_keys> export_keys() const;
  /// Step 2: frees the SSL*; from here on only try_receive/try_send, waits, try_shutdown
  /// (a FIN) and close work.
  void drop_tls();
  /// Whether the TLS engine is still attached (false after drop_tls).
  bool has_tls() const { return ssl_ != nullptr; }
  /// After the hand-off, the record layer read the peer's close_notify.
  void note_close_notify() { close_notify_after_handoff_ = true; }
  /// After the hand-off an end of stream is the record layer's close_notify, then
  /// try_shutdown's FIN. The record layer asks this before it seals the close_notify, so
  /// an injected shutdown fault strikes before anything of the end is sent, as it does
  /// before SSL_shutdown while OpenSSL holds the connection (try_shutdown then asks no more).
  std::error_code shutdown_fault() { return injected(io_faults::op::shutdown); }

  /// Closes the fd now (no close_notify); pending waits complete with operation_aborted.
  void close();
  /// Closes with a TCP RST (SO_LINGER 0): how a reset or error is passed on.
  void reset();
  /// Detaches fd and SSL* from this io_context; pending waits complete with
  /// operation_aborted. The object is closed afterwards.
  released release();
  /// The same, for a caller that knows the socket's address family (no getsockname).
  released release(asio::ip::tcp protocol);
  bool is_open() const { return socket_.is_open(); }
  asio::ip::tcp::socket& socket() { return socket_; }
  SSL* ssl() const { return ssl_.get(); }
  /// The peer's leaf certificate after the handshake, or null (not owned).
  X509* peer_certificate() const;
  /// Whether the peer sent close_notify. An end of stream (eof from try_read) without it
  /// was a bare TCP FIN: OpenSSL reports both alike (SSL_OP_IGNORE_UNEXPECTED_EOF), so
  /// this is noted as the alert is read. For the session log's termination code.
  bool received_close_notify() const;
  /// Test seam (common/io_faults.hpp): consulted before every operation from now on.
  void set_faults(std::unique_ptr<io_faults> faults) { faults_ = std::move(faults); }

 private:
  template <typename Op, typename Handler>
  void run(Op op, Handler handler) {
    result r = op();
    if (r.wait == want::nothing) {
      asio::post(socket_.get_executor(), [handler = std::move(handler), r]() mutable { handler(r.ec, r.bytes); });
      return;
    }
    async_wait(r.wait, [this, op = std::move(op), handler = std::move(handler)](std::error_code ec) mutable {
      if (ec) {
        handler(ec, std::size_t{0});
        return;
      }
      run(std::move(op), std::move(handler));
    });
  }

  result classify(int ssl_ret, std::size_t bytes);
  // The error an injected fault makes `o` fail with, or none (no faults attached: none).
  std::error_code injected(io_faults::op o) { return faults_ ? faults_->inject(o) : std::error_code(); }

  asio::ip::tcp::socket socket_;
  ssl_ptr ssl_;
  std::unique_ptr<io_faults> faults_;
  bool sent_shutdown_ = false;
  bool last_read_wanted_more_ = false;  // the last handshake or read step ended in WANT_READ
  bool close_notify_after_handoff_ = false;
};

}  // namespace zp
