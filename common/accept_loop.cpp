#include "common/accept_loop.hpp"

#include "common/acceptor.hpp"
#include "common/log.hpp"

#include <spdlog/spdlog.h>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>

namespace zp {
namespace {

constexpr std::chrono::milliseconds k_min_backoff{10};
constexpr std::chrono::milliseconds k_max_backoff{1000};

}  // namespace

accept_error classify_accept_error(const std::error_code& ec) {
  if (ec == asio::error::no_descriptors || ec == std::errc::too_many_files_open_in_system ||
      ec == std::errc::too_many_files_open) {
    return accept_error::fd_exhausted;
  }
  if (ec == std::errc::no_buffer_space || ec == std::errc::not_enough_memory) return accept_error::no_buffers;
  return accept_error::other;
}

struct accept_loop::state {
  state(asio::io_context& io, std::string n, handlers h)
      : io(io), acceptor(io), backoff(io), name(std::move(n)), on(std::move(h)) {}
  asio::io_context& io;
  asio::ip::tcp::acceptor acceptor;
  asio::steady_timer backoff;
  std::chrono::milliseconds delay{0};
  // Written by close() on the loop's thread (or, after that, read by the destructor on
  // another): atomic so that a late read is never a race.
  std::atomic<bool> closed{false};
  std::string name;
  handlers on;
  log::rate_limit log_limit;  // a failing accept repeats every backoff step
  std::array<std::atomic<std::uint64_t>, std::size_t(accept_error::count)> errors{};
};

accept_loop::accept_loop(asio::io_context& io, std::string name, handlers h)
    : state_(std::make_shared<state>(io, std::move(name), std::move(h))) {}

accept_loop::~accept_loop() {
  // Usually closed already, on the loop's own thread (a data-plane worker before its
  // shard is destroyed elsewhere): then the socket is not touched from this thread.
  if (!state_->closed.load(std::memory_order_acquire)) close();
}

absl::Status accept_loop::bind(const asio::ip::tcp::endpoint& at, bool reuse_port) {
  return open_acceptor(state_->acceptor, at, reuse_port);
}

asio::ip::tcp::acceptor& accept_loop::acceptor() { return state_->acceptor; }

asio::ip::tcp::endpoint accept_loop::local_endpoint() const {
  std::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

void accept_loop::start() { do_accept(state_); }

void accept_loop::close() {
  state_->closed.store(true, std::memory_order_release);
  std::error_code ignored;
  state_->acceptor.close(ignored);
  state_->backoff.cancel();
}

std::uint64_t accept_loop::errors(accept_error e) const {
  return state_->errors[std::size_t(e)].load(std::memory_order_relaxed);
}

void accept_loop::do_accept(const std::shared_ptr<state>& st) {
  target to = st->on.pick ? st->on.pick() : target{&st->io, st->on.accepted};
  asio::io_context& into = *to.io;
  st->acceptor.async_accept(into, [st, to = std::move(to)](std::error_code ec, asio::ip::tcp::socket socket) {
    on_accept(st, ec, std::move(socket), to);
  });
}

void accept_loop::on_accept(const std::shared_ptr<state>& st, std::error_code ec, asio::ip::tcp::socket socket,
                            const target& to) {
  if (st->closed || ec == asio::error::operation_aborted) return;
  if (ec) {
    const accept_error why = classify_accept_error(ec);
    auto& count = st->errors[std::size_t(why)];
    count.store(count.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);  // one writer
    st->delay = std::clamp(st->delay * 2, k_min_backoff, k_max_backoff);
    if (std::uint64_t suppressed = 0; st->log_limit.allow(suppressed)) {
      spdlog::warn("event=accept_failed listener={} reason={} error={} retry_ms={} suppressed={}", st->name,
                   accept_error_name(why), log::q(ec.message()), st->delay.count(), suppressed);
    }
    if (st->on.failed) st->on.failed(why);
    st->backoff.expires_after(st->delay);
    st->backoff.async_wait([st](std::error_code wait_ec) {
      if (!wait_ec && !st->closed) do_accept(st);
    });
    return;
  }
  st->delay = std::chrono::milliseconds(0);
  if (st->on.succeeded) st->on.succeeded();
  if (to.io == &st->io) {
    to.deliver(std::move(socket));
  } else {
    // The socket already belongs to the target's io_context; only that thread touches it.
    asio::post(*to.io, [deliver = to.deliver, s = std::move(socket)]() mutable { deliver(std::move(s)); });
  }
  if (!st->closed) do_accept(st);
}

}  // namespace zp
