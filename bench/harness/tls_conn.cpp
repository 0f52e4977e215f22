#include "bench/harness/tls_conn.hpp"

#include "common/tls_error.hpp"

#include <asio/error.hpp>
#include <asio/post.hpp>

#include <algorithm>
#include <cstring>

namespace zp::bench {

tls_conn::tls_conn(asio::io_context& io) : io_(io), tcp_(io) {}

tls_conn::tls_conn(asio::ip::tcp::socket accepted, SSL_CTX* ctx)
    : io_(static_cast<asio::io_context&>(accepted.get_executor().context())), tcp_(io_) {
  std::error_code ignored;
  accepted.set_option(asio::ip::tcp::no_delay(true), ignored);
  tls_ = std::make_unique<zp::tls_socket>(std::move(accepted), ctx, /*server=*/true);
}

tls_conn::tls_conn(asio::io_context& io, zp::tls_socket::released&& from, std::string leftover)
    : io_(io), tcp_(io), tls_(std::make_unique<zp::tls_socket>(io, std::move(from))), leftover_(std::move(leftover)) {}

void tls_conn::connect(const asio::ip::tcp::endpoint& to, SSL_CTX* ctx, done_handler h, ticket_slot* slot) {
  if (source_) {
    std::error_code ec;
    tcp_.open(to.protocol(), ec);
    if (!ec) tcp_.bind({*source_, 0}, ec);
    if (ec) {
      asio::post(io_, [h = std::move(h), ec] { h(ec); });
      return;
    }
  }
  tcp_.async_connect(to, [this, ctx, slot, h = std::move(h)](std::error_code ec) mutable {
    if (ec) {
      h(ec);
      return;
    }
    std::error_code ignored;
    tcp_.set_option(asio::ip::tcp::no_delay(true), ignored);
    tls_ = std::make_unique<zp::tls_socket>(std::move(tcp_), ctx, /*server=*/false);
    if (slot) slot->offer(tls_->ssl());
    tls_->async_handshake([this, slot, h = std::move(h)](std::error_code ec, std::size_t) {
      if (!ec && slot) slot->keep(tls_->ssl());
      h(ec);
    });
  });
}

void tls_conn::handshake(done_handler h) {
  tls_->async_handshake([h = std::move(h)](std::error_code ec, std::size_t) { h(ec); });
}

void tls_conn::write(const void* data, std::size_t n, done_handler h) {
  if (!tls_) {
    asio::post(io_, [h = std::move(h)] { h(asio::error::not_connected); });
    return;
  }
  tls_->async_write(asio::const_buffer(data, n), [h = std::move(h)](std::error_code ec, std::size_t) { h(ec); });
}

void tls_conn::read_some(void* data, std::size_t n, read_handler h) {
  if (!leftover_.empty()) {
    const std::size_t take = std::min(n, leftover_.size());
    std::memcpy(data, leftover_.data(), take);
    leftover_.erase(0, take);
    asio::post(io_, [h = std::move(h), take] { h({}, take); });
    return;
  }
  if (!tls_) {
    asio::post(io_, [h = std::move(h)] { h(asio::error::not_connected, 0); });
    return;
  }
  tls_->async_read_some(asio::mutable_buffer(data, n), std::move(h));
}

void tls_conn::read_exact(void* data, std::size_t n, done_handler h) {
  read_exact_more(static_cast<char*>(data), n, 0, std::move(h));
}

void tls_conn::read_exact_more(char* data, std::size_t n, std::size_t done, done_handler h) {
  if (done == n) {
    asio::post(io_, [h = std::move(h)] { h({}); });
    return;
  }
  read_some(data + done, n - done,
            [this, data, n, done, h = std::move(h)](std::error_code ec, std::size_t got) mutable {
              if (ec) {
                h(ec);
                return;
              }
              read_exact_more(data, n, done + got, std::move(h));
            });
}

void tls_conn::read_head(head_handler h) {
  read_head_more(std::make_shared<std::string>(take_leftover()), std::move(h));
}

void tls_conn::read_head_more(std::shared_ptr<std::string> head, head_handler h) {
  const auto end = head->find("\r\n\r\n");
  if (end != std::string::npos) {
    leftover_ = head->substr(end + 4);
    head->resize(end + 4);
    asio::post(io_, [h = std::move(h), head] { h({}, std::move(*head)); });
    return;
  }
  if (head->size() > k_max_head) {
    asio::post(io_, [h = std::move(h)] { h(std::make_error_code(std::errc::message_size), {}); });
    return;
  }
  scratch_.resize(16 * 1024);
  read_some(scratch_.data(), scratch_.size(),
            [this, head = std::move(head), h = std::move(h)](std::error_code ec, std::size_t got) mutable {
              if (ec) {
                h(ec, std::move(*head));
                return;
              }
              head->append(scratch_.data(), got);
              read_head_more(std::move(head), std::move(h));
            });
}

void tls_conn::shutdown(done_handler h) {
  if (!tls_) {
    asio::post(io_, [h = std::move(h)] { h(asio::error::not_connected); });
    return;
  }
  tls_->async_shutdown([h = std::move(h)](std::error_code ec, std::size_t) { h(ec); });
}

void tls_conn::read_to_end(read_handler h) { read_to_end_more(0, std::move(h)); }

void tls_conn::read_to_end_more(std::size_t seen, read_handler h) {
  scratch_.resize(16 * 1024);
  read_some(scratch_.data(), scratch_.size(),
            [this, seen, h = std::move(h)](std::error_code ec, std::size_t got) mutable {
              if (ec == asio::error::eof) {
                h({}, seen);
              } else if (ec) {
                h(ec, seen);
              } else {
                read_to_end_more(seen + got, std::move(h));
              }
            });
}

void tls_conn::close() {
  std::error_code ignored;
  tcp_.close(ignored);
  if (tls_) tls_->close();
}

zp::tls_socket::released tls_conn::release() { return tls_->release(); }

std::string describe(const std::error_code& ec) {
  std::string reason = zp::tls_reason_name(ec);
  if (reason == "io_error") return ec.message();
  return reason;
}

}  // namespace zp::bench
