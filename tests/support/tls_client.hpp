#pragma once
// A blocking TLS client for tests: real TCP on loopback, real OpenSSL, a timeout on
// every read and write so a broken server fails the test instead of hanging it.

#include "common/openssl_ptr.hpp"

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace zp::test {

/// A parsed HTTP response.
struct http_reply {
  int status = 0;
  std::map<std::string, std::string> headers;  // lowercase names
  std::string body;
};

class tls_client {
 public:
  /// Connects to 127.0.0.1:port (TCP only; call handshake() next), from `source` (an
  /// address of 127.0.0.0/8) when given, so tests can play many hosts.
  tls_client(std::uint16_t port, SSL_CTX* ctx, std::chrono::milliseconds timeout = std::chrono::seconds(10),
             const char* source = nullptr);
  tls_client(const tls_client&) = delete;
  tls_client& operator=(const tls_client&) = delete;
  ~tls_client();

  bool connected() const { return fd_ >= 0; }
  /// Runs the handshake; false with error() describing why.
  bool handshake();
  /// Offers `session` (its ticket) in the next handshake, as a resuming client does.
  /// (A copy is offered, so that this connection's end cannot mark `session` unresumable.)
  void offer_session(SSL_SESSION* session) {
    ssl_session_ptr copy(SSL_SESSION_dup(session));
    SSL_set_session(ssl_.get(), copy.get());
  }
  /// After the handshake: the session to offer next time (with the ticket the server sent).
  /// A copy: OpenSSL marks a connection's own session unresumable when the connection
  /// ends without close_notify, as tests' connections do.
  ssl_session_ptr session() const { return ssl_session_ptr(SSL_SESSION_dup(SSL_get0_session(ssl_.get()))); }
  /// Whether the handshake resumed the offered session.
  bool resumed() const { return SSL_session_reused(ssl_.get()) == 1; }
  /// The reason of the last failure as OpenSSL words it, e.g. "tlsv1 alert protocol version".
  const std::string& error() const { return error_; }
  /// OpenSSL reason code of the last failure (ERR_GET_REASON), 0 if none.
  int error_reason() const { return error_reason_; }

  bool write_all(std::string_view data);
  /// Reads what is available (blocks up to the timeout); empty on end of stream.
  std::optional<std::string> read_some(std::size_t max = 64 * 1024);
  /// Reads until the peer ends the stream or the timeout; true if it ended cleanly.
  bool read_to_end(std::string& out);
  /// Reads one HTTP response (head + Content-Length body).
  std::optional<http_reply> read_http_response();
  /// Sends an HTTP request and reads the response.
  std::optional<http_reply> request(std::string_view method, std::string_view target, std::string_view body = {},
                                    std::string_view extra_headers = {});
  /// Sends close_notify and FIN (half-close).
  void shutdown_write();
  /// Closes with a TCP RST (SO_LINGER 0).
  void reset();

  /// Bytes already read from TLS but not yet returned (e.g. after a response head).
  std::string take_buffered() { return std::exchange(buffered_, std::string()); }

  SSL* ssl() const { return ssl_.get(); }
  std::string cipher() const;
  int fd() const { return fd_; }

 private:
  void record_error(int ret);

  int fd_ = -1;
  ssl_ptr ssl_;
  std::string error_;
  int error_reason_ = 0;
  std::string buffered_;  // bytes read past a response
};

/// A plain TCP connection to 127.0.0.1:port from `source` (127.0.0.0/8); the fd, or -1.
int raw_connect(std::uint16_t port, const std::string& source = "127.0.0.1");
/// True when the peer closes or resets `fd` within `timeout` (anything it sends first is
/// read and dropped); false if the connection is still open then.
bool closed_within(int fd, std::chrono::milliseconds timeout);

/// A client SSL_CTX pinned to one protocol version and one cipher string, with the
/// client's own policy floor lowered so it really offers what the test asks for.
ssl_ctx_ptr make_raw_client_ctx(int version, const char* ciphers);

}  // namespace zp::test
