#include "provisioning/api_connection.hpp"

#include "common/http_response.hpp"
#include "common/log.hpp"
#include "common/source_limiter.hpp"
#include "common/strings.hpp"
#include "common/tls_error.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace zp::provisioning {

std::string api_connection::describe(const asio::ip::tcp::socket& s) {
  std::error_code ec;
  auto ep = s.remote_endpoint(ec);
  return ec ? std::string("unknown") : str_cat(ep.address().to_string(), ":", ep.port());
}

void api_connection::arm(std::chrono::seconds timeout) {
  timer_.expires_after(timeout);
  timer_.async_wait([weak = weak_from_this()](std::error_code ec) {
    if (ec) return;  // cancelled: re-armed or closed
    if (auto self = weak.lock()) {
      SPDLOG_DEBUG("event=api_timeout peer={}", self->peer_);
      self->tls_.close();
    }
  });
}

void api_connection::on_handshake(std::error_code ec) {
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

void api_connection::do_read() {
  // Pipelined bytes left over from the previous request are parsed first.
  if (!pending_.empty()) {
    std::size_t used = parser_.feed(pending_);
    pending_.erase(0, used);
    if (parser_.current() != http_request_parser::state::need_more) return on_request();
  }
  tls_.async_read_some(asio::buffer(buf_),
                       [self = shared_from_this()](std::error_code ec, std::size_t n) { self->on_read(ec, n); });
}

void api_connection::on_read(std::error_code ec, std::size_t n) {
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

void api_connection::on_request() {
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

void api_connection::on_written(std::error_code ec, bool keep_alive) {
  if (ec) return close();
  if (!keep_alive) return do_shutdown();
  parser_.reset();
  request_started_ = false;
  arm(shared_->limits.idle_timeout);
  do_read();
}

void api_connection::respond_and_close(std::string response) {
  out_ = std::move(response);
  tls_.async_write(asio::buffer(out_), [self = shared_from_this()](std::error_code ec, std::size_t) {
    if (ec) return self->close();
    self->do_shutdown();
  });
}

void api_connection::do_shutdown() {
  tls_.async_shutdown([self = shared_from_this()](std::error_code, std::size_t) { self->linger(); });
}

void api_connection::linger() {
  tls_.async_read_some(asio::buffer(buf_), [self = shared_from_this()](std::error_code ec, std::size_t n) {
    self->lingered_ += n;
    if (ec || self->lingered_ > k_max_linger) return self->close();
    self->linger();
  });
}

}  // namespace zp::provisioning
