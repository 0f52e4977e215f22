#pragma once
// One HTTPS connection on 17488, and what it shares with its api_server (handler, limits,
// refusal counts, the list of live connections). The server owns the listener and who
// is admitted; a connection owns its TLS, its requests and its answers.

#include "common/http_request_parser.hpp"
#include "common/tls_socket.hpp"
#include "provisioning/api_server.hpp"

#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <array>
#include <chrono>
#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace zp::provisioning {

class api_connection;

// What the server and its connections share, on the control thread only.
struct api_server::shared {
  api_handler handler;
  api_limits limits;
  std::function<bool()> certificates_required;
  std::vector<std::weak_ptr<api_connection>> connections;  // oldest first
  const api_connection* serving = nullptr;                 // whose request the handler runs
  std::array<std::uint64_t, std::size_t(api_refusal::count)> refused{};
  // Sources that presented a trusted certificate lately, and when: their next connections
  // wait for their handshake in the trusted clients' room, out of the anonymous flood's
  // reach (bounded: the oldest entries go past k_max_vouched_sources).
  std::map<std::array<unsigned char, 16>, std::chrono::steady_clock::time_point> vouched_sources;
  static constexpr std::size_t k_max_vouched_sources = 4096;
  static constexpr auto k_vouch_for = std::chrono::hours(1);

  void count(api_refusal r) { ++refused[std::size_t(r)]; }
  template <typename Pred>
  std::size_t live_where(Pred pred);
};

/// One HTTPS connection on 17488. Kept alive by its own pending handlers
/// (shared_from_this); exactly one operation (handshake, read, or write) is pending at
/// a time, plus the deadline timer, which only ever closes the socket.
class api_connection : public std::enable_shared_from_this<api_connection> {
 public:
  api_connection(asio::ip::tcp::socket socket, const asio::ip::address& source, SSL_CTX* ctx,
                 std::shared_ptr<api_server::shared> shared)
      : peer_(describe(socket)),
        source_(source),
        tls_(std::move(socket), ctx),
        timer_(tls_.socket().get_executor()),
        shared_(std::move(shared)),
        parser_(shared_->limits.max_head, shared_->limits.max_body, /*head_only=*/false) {}

  void start() {
    arm(shared_->limits.handshake_timeout);
    tls_.async_handshake([self = shared_from_this()](std::error_code ec, std::size_t) { self->on_handshake(ec); });
  }

  void close() {
    closed_ = true;
    timer_.cancel();
    tls_.close();
  }

  /// Anonymous until its handshake showed a trusted certificate (PROTOCOL.md 4.2).
  bool trusted() const { return trusted_; }
  /// Admitted into the trusted clients' room before its handshake (its source presented
  /// a trusted certificate lately); neither anonymous nor trusted yet.
  bool vouched() const { return vouched_; }
  void vouch() { vouched_ = true; }
  /// No complete ClientHello processed yet.
  bool before_client_hello() const { return !closed_ && SSL_in_before(tls_.ssl()) == 1; }
  /// Answer the request being served, then close (its certificate stopped being trusted
  /// by that very request: a deprovision, a revocation of itself).
  void close_after_response() { close_after_response_ = true; }
  bool closed() const { return closed_; }
  const asio::ip::address& source() const { return source_; }
  X509* client_cert() const { return tls_.peer_certificate(); }
  STACK_OF(X509) * client_chain() const { return SSL_get_peer_cert_chain(tls_.ssl()); }

 private:
  static std::string describe(const asio::ip::tcp::socket& s);

  // The deadline closes the socket; the pending operation then fails with
  // operation_aborted and the connection unwinds through its normal error path.
  void arm(std::chrono::seconds timeout);

  void on_handshake(std::error_code ec);

  void do_read();

  void on_read(std::error_code ec, std::size_t n);

  void on_request();

  void on_written(std::error_code ec, bool keep_alive);

  void respond_and_close(std::string response);

  void do_shutdown();

  // After our close_notify + FIN, read and discard what the client is still sending
  // (e.g. the rest of a body we refused with 413): closing with unread bytes would
  // send a reset that can destroy the response before the client reads it. Bounded in
  // bytes here and in time by the deadline already armed.
  void linger();
  static constexpr std::size_t k_max_linger = 2 * 1024 * 1024;

  std::string peer_;
  asio::ip::address source_;
  tls_socket tls_;
  asio::steady_timer timer_;
  std::shared_ptr<api_server::shared> shared_;
  http_request_parser parser_;
  std::array<char, 16 * 1024> buf_{};
  std::string pending_;  // received but not yet parsed (pipelining)
  std::string out_;      // the response being written
  bool request_started_ = false;
  bool trusted_ = false;
  bool vouched_ = false;
  bool closed_ = false;
  bool close_after_response_ = false;
  std::size_t lingered_ = 0;
};

template <typename Pred>
std::size_t api_server::shared::live_where(Pred pred) {
  std::size_t n = 0;
  for (const auto& weak : connections) {
    if (auto c = weak.lock(); c && !c->closed() && pred(*c)) ++n;
  }
  return n;
}

}  // namespace zp::provisioning
