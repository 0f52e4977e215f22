#pragma once
// One TLS connection of the harness (client or backend side), on the repo's
// readiness-driven zp::tls_socket (common/tls_socket.hpp): no memory-BIO copies, and
// a backend connection accepted on one I/O thread can move to its session's thread.
//
// Owner: the session holding the tls_conn. Every completion handler is posted (never
// run inline); whoever starts an operation keeps the owner alive until the handler has
// run, by capturing its shared_ptr. close() makes pending operations complete with
// operation_aborted.
//
// Bytes read past an HTTP head (read_head) are kept as "leftover" and returned first by
// read_some / read_exact, so relayed data that follows a 101 in one record is not lost.

#include "bench/harness/ticket_slot.hpp"
#include "common/tls_socket.hpp"

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <system_error>
#include <vector>

namespace zp::bench {

class tls_conn {
 public:
  using done_handler = std::function<void(std::error_code)>;
  using read_handler = std::function<void(std::error_code, std::size_t)>;
  using head_handler = std::function<void(std::error_code, std::string)>;

  /// The longest HTTP head read_head() accepts (PROTOCOL.md 3.2's bound).
  static constexpr std::size_t k_max_head = 8192;

  /// A client connection, not connected yet.
  explicit tls_conn(asio::io_context& io);
  /// A server-side connection on an accepted socket (handshake() next).
  tls_conn(asio::ip::tcp::socket accepted, SSL_CTX* ctx);
  /// Adopts a connection released on another thread, with its unread bytes.
  tls_conn(asio::io_context& io, zp::tls_socket::released&& from, std::string leftover);
  tls_conn(const tls_conn&) = delete;
  tls_conn& operator=(const tls_conn&) = delete;

  /// Connect from this source address (e.g. one of 127.0.0.0/8) instead of the default.
  void set_source(const asio::ip::address& source) { source_ = source; }
  /// TCP connect (TCP_NODELAY) and the TLS client handshake; with a slot, the handshake
  /// offers the slot's session and the slot keeps the one it gets (--resume).
  void connect(const asio::ip::tcp::endpoint& to, SSL_CTX* ctx, done_handler h, ticket_slot* slot = nullptr);
  /// The TLS server handshake of an accepted connection.
  void handshake(done_handler h);
  /// Writes all of [data, data + n).
  void write(const void* data, std::size_t n, done_handler h);
  /// Reads what is there (leftover first), at most n bytes.
  void read_some(void* data, std::size_t n, read_handler h);
  /// Reads exactly n bytes.
  void read_exact(void* data, std::size_t n, done_handler h);
  /// Reads one HTTP head (through the blank line, at most k_max_head bytes).
  void read_head(head_handler h);
  /// close_notify + FIN; reading stays open.
  void shutdown(done_handler h);
  /// Reads until the peer's end of stream; the handler gets {} on a clean end, or an
  /// error, and the count of bytes that arrived before it (0 expected).
  void read_to_end(read_handler h);
  /// Closes now (no close_notify).
  void close();
  /// Detaches fd + SSL* (for adoption on another thread); the leftover stays here.
  zp::tls_socket::released release();
  std::string take_leftover() { return std::exchange(leftover_, std::string()); }
  bool has_leftover() const { return !leftover_.empty(); }
  /// The connection for direct try_*() use on the hot path; null before connect().
  zp::tls_socket* socket() { return tls_.get(); }
  asio::io_context& io() { return io_; }

 private:
  void read_exact_more(char* data, std::size_t n, std::size_t done, done_handler h);
  void read_head_more(std::shared_ptr<std::string> head, head_handler h);
  void read_to_end_more(std::size_t seen, read_handler h);

  asio::io_context& io_;
  asio::ip::tcp::socket tcp_;  // only while connecting
  std::optional<asio::ip::address> source_;
  std::unique_ptr<zp::tls_socket> tls_;
  std::string leftover_;
  std::vector<char> scratch_;  // read_head / read_to_end
};

/// A short text for an error in the harness's reports ("eof", "reset", a TLS reason).
std::string describe(const std::error_code& ec);

}  // namespace zp::bench
