#include "provisioning/api_server.hpp"

#include "common/acceptor.hpp"
#include "common/http_response.hpp"
#include "common/log.hpp"
#include "common/tls_error.hpp"
#include "common/tls_socket.hpp"

#include <asio/error.hpp>
#include "common/strings.hpp"

#include <array>

namespace zp::provisioning {

struct api_server::shared {
  api_handler handler;
  api_limits limits;
};

/// One HTTPS connection on 17488. Kept alive by its own pending handlers
/// (shared_from_this); exactly one operation (handshake, read, or write) is pending at
/// a time, plus the deadline timer, which only ever closes the socket.
class api_connection : public std::enable_shared_from_this<api_connection> {
 public:
  api_connection(asio::ip::tcp::socket socket, SSL_CTX* ctx, std::shared_ptr<const api_server::shared> shared)
      : peer_(describe(socket)),
        tls_(std::move(socket), ctx),
        timer_(tls_.socket().get_executor()),
        shared_(std::move(shared)),
        parser_(shared_->limits.max_head, shared_->limits.max_body, /*head_only=*/false) {}

  void start() {
    arm(shared_->limits.handshake_timeout);
    tls_.async_handshake([self = shared_from_this()](std::error_code ec, std::size_t) { self->on_handshake(ec); });
  }

  void close() {
    timer_.cancel();
    tls_.close();
  }

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
    if (ec) {
      // Scanners and clients offering a refused version or suite end here; debug
      // level keeps a flood of them out of the log.
      SPDLOG_DEBUG("event=api_handshake_failed peer={} reason={}", peer_, tls_reason_name(ec));
      return close();
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
    api_request_context ctx{tls_.peer_certificate(), peer_};
    api_response res = shared_->handler(req, ctx);
    if (res.status == 0) return close();  // refused without an answer (revoked client)
    const bool keep_alive = req.keep_alive;
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
  tls_socket tls_;
  asio::steady_timer timer_;
  std::shared_ptr<const api_server::shared> shared_;
  http_request_parser parser_;
  std::array<char, 16 * 1024> buf_{};
  std::string pending_;  // received but not yet parsed (pipelining)
  std::string out_;      // the response being written
  bool request_started_ = false;
  std::size_t lingered_ = 0;
};

api_server::api_server(asio::io_context& io, ctx_provider ctx, api_handler handler, api_limits limits)
    : ctx_(std::move(ctx)),
      shared_(std::make_shared<const shared>(shared{std::move(handler), limits})),
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
  for (auto& weak : connections_) {
    if (auto c = weak.lock()) c->close();
  }
  connections_.clear();
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
    // instead of spinning on an accept that keeps failing.
    SPDLOG_WARN("event=accept_failed listener=provisioning error={}", log::q(ec.message()));
    accept_backoff_.expires_after(std::chrono::milliseconds(100));
    accept_backoff_.async_wait([this](std::error_code wait_ec) {
      if (!wait_ec && !stopped_) do_accept();
    });
    return;
  }
  std::erase_if(connections_, [](const auto& w) { return w.expired(); });
  if (connections_.size() >= shared_->limits.max_connections) {
    SPDLOG_WARN("event=api_connection_refused reason=too_many_connections limit={}", shared_->limits.max_connections);
    std::error_code ignored;
    socket.close(ignored);
  } else {
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
    auto ctx = ctx_();
    auto conn = std::make_shared<api_connection>(std::move(socket), ctx.get(), shared_);
    connections_.push_back(conn);
    conn->start();
  }
  do_accept();
}

}  // namespace zp::provisioning
