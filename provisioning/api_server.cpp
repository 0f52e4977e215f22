#include "provisioning/api_server.hpp"

#include "common/acceptor.hpp"
#include "common/http_response.hpp"
#include "common/log.hpp"
#include "common/tls_error.hpp"
#include "common/tls_socket.hpp"

#include "common/source_limiter.hpp"
#include "common/strings.hpp"

#include <asio/error.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>

namespace zp::provisioning {

std::string_view api_refusal_name(api_refusal r) {
  static constexpr std::string_view k_names[] = {"anonymous_per_source", "anonymous_evicted", "anonymous_closed",
                                                 "trusted_full",         "handshake_failed",  "untrusted"};
  static_assert(std::size(k_names) == std::size_t(api_refusal::count));
  return r < api_refusal::count ? k_names[std::size_t(r)] : "unknown";
}

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
  static std::string describe(const asio::ip::tcp::socket& s) {
    std::error_code ec;
    auto ep = s.remote_endpoint(ec);
    return ec ? std::string("unknown") : str_cat(ep.address().to_string(), ":", ep.port());
  }

  // The deadline closes the socket; the pending operation then fails with
  // operation_aborted and the connection unwinds through its normal error path.
  void arm(std::chrono::seconds timeout) {
    timer_.expires_after(timeout);
    timer_.async_wait([weak = weak_from_this()](std::error_code ec) {
      if (ec) return;  // cancelled: re-armed or closed
      if (auto self = weak.lock()) {
        SPDLOG_DEBUG("event=api_timeout peer={}", self->peer_);
        self->tls_.close();
      }
    });
  }

  void on_handshake(std::error_code ec) {
    if (closed_) return;
    if (ec) {
      // Scanners and clients offering a refused version or suite end here; debug
      // level keeps a flood of them out of the log.
      SPDLOG_DEBUG("event=api_handshake_failed peer={} reason={}", peer_, tls_reason_name(ec));
      shared_->count(api_refusal::handshake_failed);
      return close();
    }
    if (shared_->certificates_required()) {
      // PROTOCOL.md 4.2 (1.1): without a trusted certificate the connection is closed now,
      // before a byte of a request is read; the handshake already refused an untrusted
      // or revoked one.
      if (tls_.peer_certificate() == nullptr) {
        shared_->count(api_refusal::anonymous_closed);
        return close();
      }
      if (shared_->live_where([](const api_connection& c) { return c.trusted(); }) >= shared_->limits.max_trusted) {
        shared_->count(api_refusal::trusted_full);
        return close();
      }
      trusted_ = true;
      vouched_ = false;
      auto& v = shared_->vouched_sources;
      v[source_key(source_)] = std::chrono::steady_clock::now();
      if (v.size() > api_server::shared::k_max_vouched_sources) {
        v.erase(std::min_element(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.second < b.second; }));
      }
    }
    arm(shared_->limits.idle_timeout);
    do_read();
  }

  void do_read() {
    // Pipelined bytes left over from the previous request are parsed first.
    if (!pending_.empty()) {
      std::size_t used = parser_.feed(pending_);
      pending_.erase(0, used);
      if (parser_.current() != http_request_parser::state::need_more) return on_request();
    }
    tls_.async_read_some(asio::buffer(buf_),
                         [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read(ec, n); });
  }

  void on_read(std::error_code ec, std::size_t n) {
    if (ec) return close();  // peer closed, timed out or broke TLS: nothing to answer
    if (!request_started_) {
      request_started_ = true;
      arm(shared_->limits.request_timeout);
    }
    std::string_view data(buf_.data(), n);
    std::size_t used = parser_.feed(data);
    pending_.append(data.substr(used));
    if (pending_.size() > shared_->limits.max_head + shared_->limits.max_body) return close();
    if (parser_.current() == http_request_parser::state::need_more) return do_read();
    on_request();
  }

  void on_request() {
    if (parser_.current() == http_request_parser::state::failed) {
      using error = http_request_parser::error;
      switch (parser_.failure()) {
        case error::body_too_large:
          return respond_and_close(http_error_response(413, "payload_too_large", "request body exceeds 1 MiB"));
        case error::head_too_large:
          return respond_and_close(http_error_response(400, "bad_request", "request head too large"));
        default:
          return respond_and_close(
              http_error_response(400, "bad_request", str_cat("malformed request: ", parser_.failure_detail())));
      }
    }
    const http_request& req = parser_.request();
    if (req.version_major != 1 || req.version_minor != 1) {
      return respond_and_close(http_error_response(400, "bad_request", "only HTTP/1.1 is supported"));
    }
    api_request_context ctx{tls_.peer_certificate(), SSL_get_peer_cert_chain(tls_.ssl()), peer_};
    shared_->serving = this;
    api_response res = shared_->handler(req, ctx);
    shared_->serving = nullptr;
    if (res.status == 0) return close();  // refused without an answer (revoked client)
    const bool keep_alive = req.keep_alive && !close_after_response_;
    std::string head = str_cat("HTTP/1.1 ", res.status, " ", http_reason(res.status), "\r\n");
    if (res.status != 204) {
      str_append(head, "Content-Type: ", res.content_type, "\r\nContent-Length: ", res.body.size(), "\r\n");
    }
    str_append(head, keep_alive ? "Connection: keep-alive\r\n" : "Connection: close\r\n",
               "Cache-Control: no-store\r\n\r\n");
    if (res.status != 204) head += res.body;
    out_ = std::move(head);
    tls_.async_write(asio::buffer(out_), [self = shared_from_this(), keep_alive](std::error_code ec, std::size_t) {
      self->on_written(ec, keep_alive);
    });
  }

  void on_written(std::error_code ec, bool keep_alive) {
    if (ec) return close();
    if (!keep_alive) return do_shutdown();
    parser_.reset();
    request_started_ = false;
    arm(shared_->limits.idle_timeout);
    do_read();
  }

  void respond_and_close(std::string response) {
    out_ = std::move(response);
    tls_.async_write(asio::buffer(out_), [self = shared_from_this()](std::error_code ec, std::size_t) {
      if (ec) return self->close();
      self->do_shutdown();
    });
  }

  void do_shutdown() {
    tls_.async_shutdown([self = shared_from_this()](std::error_code, std::size_t) { self->linger(); });
  }

  // After our close_notify + FIN, read and discard what the client is still sending
  // (e.g. the rest of a body we refused with 413): closing with unread bytes would
  // send a reset that can destroy the response before the client reads it. Bounded in
  // bytes here and in time by the deadline already armed.
  void linger() {
    tls_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
      self->lingered_ += n;
      if (ec || self->lingered_ > k_max_linger) return self->close();
      self->linger();
    });
  }
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

api_server::api_server(asio::io_context& io, ctx_provider ctx, std::function<bool()> certificates_required,
                       api_handler handler, api_limits limits)
    : ctx_(std::move(ctx)),
      shared_(std::make_shared<shared>(
          shared{std::move(handler), limits, std::move(certificates_required), {}, {}, {}, {}})),
      acceptor_(io),
      accept_backoff_(io) {}

api_server::~api_server() { stop(); }

absl::StatusOr<asio::ip::tcp::endpoint> api_server::listen(const asio::ip::tcp::endpoint& at) {
  if (auto st = open_acceptor(acceptor_, at, /*reuse_port=*/false); !st.ok()) return st;
  std::error_code ec;
  auto bound = acceptor_.local_endpoint(ec);
  do_accept();
  return bound;
}

void api_server::stop() {
  stopped_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  accept_backoff_.cancel();
  for (auto& weak : shared_->connections) {
    if (auto c = weak.lock()) c->close();
  }
  shared_->connections.clear();
}

void api_server::close_untrusted(const std::function<bool(X509* client_cert, STACK_OF(X509) * chain)>& trusted) {
  for (auto& weak : shared_->connections) {
    auto c = weak.lock();
    if (!c || c->closed() || !c->trusted() || trusted(c->client_cert(), c->client_chain())) continue;
    shared_->count(api_refusal::untrusted);
    if (c.get() == shared_->serving) {
      c->close_after_response();
    } else {
      c->close();
    }
  }
}

std::uint64_t api_server::refused(api_refusal r) const { return shared_->refused[std::size_t(r)]; }

bool api_server::vouched(const asio::ip::address& source) {
  const auto key = source_key(source);
  auto it = shared_->vouched_sources.find(key);
  if (it == shared_->vouched_sources.end()) return false;
  if (std::chrono::steady_clock::now() - it->second > shared::k_vouch_for) {
    shared_->vouched_sources.erase(it);
    return false;
  }
  // The room is the trusted clients': shared with them, and per source as for anyone.
  const auto in_room = [](const api_connection& c) { return c.trusted() || c.vouched(); };
  return shared_->live_where(in_room) < shared_->limits.max_trusted &&
         shared_->live_where([&](const api_connection& c) { return c.vouched() && source_key(c.source()) == key; }) <
             shared_->limits.max_anonymous_per_source;
}

bool api_server::admit_anonymous(const asio::ip::address& source) {
  const auto key = source_key(source);
  const auto anonymous = [](const api_connection& c) { return !c.trusted() && !c.vouched(); };
  if (shared_->live_where([&](const api_connection& c) { return anonymous(c) && source_key(c.source()) == key; }) >=
      shared_->limits.max_anonymous_per_source) {
    shared_->count(api_refusal::anonymous_per_source);
    return false;
  }
  if (shared_->live_where(anonymous) >= shared_->limits.max_anonymous) evict_one_anonymous();
  return true;
}

void api_server::evict_one_anonymous() {
  // A newcomer may be the trusted client the others are keeping out, and it needs only
  // its handshake to prove it. Who goes: the oldest connection whose ClientHello has not
  // arrived whole (a silent or dripping one: a real client sends it at once), so a
  // connection in the middle of its handshake survives a flood that reconnects faster than
  // a handshake takes; only when every anonymous connection is past its ClientHello, the
  // oldest of them.
  std::shared_ptr<api_connection> victim, oldest;
  for (auto& weak : shared_->connections) {
    auto c = weak.lock();
    if (!c || c->closed() || c->trusted() || c->vouched()) continue;
    if (c->before_client_hello()) {
      victim = std::move(c);
      break;
    }
    if (!oldest) oldest = std::move(c);
  }
  if (!victim) victim = std::move(oldest);
  if (!victim) return;
  shared_->count(api_refusal::anonymous_evicted);
  victim->close();
}

void api_server::do_accept() {
  acceptor_.async_accept([this](std::error_code ec, asio::ip::tcp::socket socket) {
    // `this` is alive: the acceptor is closed in stop() before the server goes away,
    // and the io_context is run to completion before the server is destroyed.
    on_accept(ec, std::move(socket));
  });
}

void api_server::on_accept(std::error_code ec, asio::ip::tcp::socket socket) {
  if (stopped_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    // EMFILE/ENFILE/ENOBUFS: the pending connection stays in the backlog; back off
    // instead of spinning on an accept that keeps failing, and free a descriptor: the
    // oldest anonymous connection goes first (PROTOCOL.md 3.6: running out of
    // descriptors never stops 17488 from answering a trusted client).
    if (std::uint64_t suppressed = 0; refusal_log_.allow(suppressed)) {
      spdlog::warn("event=accept_failed listener=provisioning error={} suppressed={}", log::q(ec.message()),
                   suppressed);
    }
    evict_one_anonymous();
    accept_backoff_.expires_after(std::chrono::milliseconds(100));
    accept_backoff_.async_wait([this](std::error_code wait_ec) {
      if (!wait_ec && !stopped_) do_accept();
    });
    return;
  }
  std::erase_if(shared_->connections, [](const auto& w) {
    auto c = w.lock();
    return !c || c->closed();
  });
  std::error_code ec_remote;
  const auto remote = socket.remote_endpoint(ec_remote);
  const bool vouched_for = !ec_remote && vouched(remote.address());
  if (ec_remote || (!vouched_for && !admit_anonymous(remote.address()))) {
    if (std::uint64_t suppressed = 0; !ec_remote && refusal_log_.allow(suppressed)) {
      spdlog::info("event=api_connection_refused reason=anonymous_per_source peer={} suppressed={}",
                   remote.address().to_string(), suppressed);
    }
    std::error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
  } else {
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
    auto ctx = ctx_();
    auto conn = std::make_shared<api_connection>(std::move(socket), remote.address(), ctx.get(), shared_);
    if (vouched_for) conn->vouch();
    shared_->connections.push_back(conn);
    conn->start();
  }
  do_accept();
}

}  // namespace zp::provisioning
