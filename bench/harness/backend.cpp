#include "bench/harness/backend.hpp"

#include "bench/harness/session.hpp"
#include "common/strings.hpp"

#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <sys/socket.h>

namespace zp::bench {
namespace {

using reuse_port = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;

// The session id of a hello head, or empty if the head is not a rendezvous hello.
std::string session_id_of(const std::string& head) {
  constexpr std::string_view prefix = "GET /v1/rendezvous/";
  if (head.compare(0, prefix.size(), prefix) != 0 || head.size() < prefix.size() + 32) return {};
  std::string id = head.substr(prefix.size(), 32);
  if (head.compare(prefix.size() + 32, 10, " HTTP/1.1\r") != 0) return {};
  for (char c : id) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return {};
  }
  return id;
}

// An accepted connection until its hello names a session: its phase deadline.
struct incoming {
  std::unique_ptr<tls_conn> conn;
  asio::steady_timer timer;
  explicit incoming(std::unique_ptr<tls_conn> c) : conn(std::move(c)), timer(conn->io()) {}
};

}  // namespace

backend::backend(io_pool& pool, SSL_CTX* server_ctx, error_log& errors)
    : pool_(pool), ctx_(server_ctx), errors_(errors) {}

absl::Status backend::start(const host_port& listen) {
  std::error_code ec;
  const auto address = asio::ip::make_address(listen.host, ec);
  if (ec) return absl::InvalidArgumentError(str_cat("--backend-listen: bad address ", listen.host));
  const asio::ip::tcp::endpoint at(address, listen.port);
  for (std::size_t i = 0; i < pool_.size(); ++i) {
    auto a = std::make_unique<asio::ip::tcp::acceptor>(pool_.at(i));
    a->open(at.protocol(), ec);
    if (!ec) a->set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) a->set_option(reuse_port(true), ec);
    if (!ec) a->bind(at, ec);
    if (!ec) a->listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
      return absl::UnavailableError(
          str_cat("backend cannot listen on ", listen.host, ":", listen.port, ": ", ec.message()));
    }
    acceptors_.push_back(std::move(a));
  }
  for (auto& a : acceptors_) accept(*a);
  return absl::OkStatus();
}

void backend::accept(asio::ip::tcp::acceptor& acceptor) {
  // `this` outlives every handler: stop() closes the acceptors and the pool is stopped
  // (handlers dropped) before the backend is destroyed.
  acceptor.async_accept([this, &acceptor](std::error_code ec, asio::ip::tcp::socket socket) {
    if (stopped_.load(std::memory_order_relaxed)) return;
    if (ec) {
      errors_.add(str_cat("backend: accept: ", ec.message()));
      // EMFILE and friends: back off instead of spinning.
      auto timer = std::make_shared<asio::steady_timer>(acceptor.get_executor(), std::chrono::milliseconds(100));
      timer->async_wait([this, &acceptor, timer](std::error_code) {
        if (!stopped_.load(std::memory_order_relaxed)) accept(acceptor);
      });
      return;
    }
    serve(std::make_unique<tls_conn>(std::move(socket), ctx_));
    accept(acceptor);
  });
}

void backend::serve(std::unique_ptr<tls_conn> conn) {
  auto in = std::make_shared<incoming>(std::move(conn));
  in->timer.expires_after(k_phase_timeout);
  in->timer.async_wait([in](std::error_code ec) {
    if (!ec) in->conn->close();  // the pending handshake or read fails with operation_aborted
  });
  in->conn->handshake([this, in](std::error_code ec) {
    if (ec) {
      in->timer.cancel();
      errors_.add(str_cat("backend: handshake: ", describe(ec)));
      return;
    }
    in->conn->read_head([this, in](std::error_code ec, const std::string& head) {
      in->timer.cancel();
      if (ec) {
        errors_.add(str_cat("backend: reading the hello: ", describe(ec)));
        return;
      }
      const std::string id = session_id_of(head);
      expected e;
      {
        std::lock_guard lock(mu_);
        auto it = expected_.find(id);
        if (it != expected_.end()) {
          e = std::move(it->second);
          expected_.erase(it);
        }
      }
      if (!e.io) {
        errors_.add(str_cat("backend: hello for no expected session: ", head.substr(0, head.find('\r'))));
        in->conn->close();
        return;
      }
      auto released = std::make_shared<zp::tls_socket::released>(in->conn->release());
      auto leftover = in->conn->take_leftover();
      asio::post(*e.io, [io = e.io, cb = std::move(e.on_arrival), released, leftover = std::move(leftover)]() mutable {
        cb(std::make_unique<tls_conn>(*io, std::move(*released), std::move(leftover)));
      });
    });
  });
}

void backend::expect(const std::string& id, asio::io_context& io, arrival on_arrival) {
  std::lock_guard lock(mu_);
  expected_[id] = expected{&io, std::move(on_arrival)};
}

bool backend::forget(const std::string& id) {
  std::lock_guard lock(mu_);
  return expected_.erase(id) > 0;
}

void backend::stop() {
  stopped_.store(true, std::memory_order_relaxed);
  for (auto& a : acceptors_) {
    asio::post(a->get_executor(), [a = a.get()] {
      std::error_code ignored;
      a->close(ignored);
    });
  }
}

}  // namespace zp::bench
