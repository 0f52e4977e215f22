#include "proxy/listener.hpp"

#include "common/acceptor.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"

#include <spdlog/spdlog.h>
#include <asio/error.hpp>
#include <asio/post.hpp>

namespace zp::proxy {
namespace {

constexpr std::chrono::milliseconds k_min_backoff{10};
constexpr std::chrono::milliseconds k_max_backoff{1000};

}  // namespace

listener::listener(asio::io_context& io, role kind, worker_counters& counters, target_picker pick)
    : state_(std::make_shared<state>(io)), kind_(kind), counters_(counters), io_(io), pick_(std::move(pick)) {}

listener::listener(asio::io_context& io, role kind, worker_counters& counters, accept_handler on_accept)
    : listener(io, kind, counters, [&io, deliver = std::move(on_accept)] {
        return accept_target{&io, deliver};
      }) {}

absl::Status listener::bind(const asio::ip::tcp::endpoint& at) {
  // SO_REUSEPORT: each worker binds its own acceptor to the same port (where it exists;
  // elsewhere only one worker binds, data_plane::start).
  return open_acceptor(state_->acceptor, at, /*reuse_port=*/true);
}

void listener::apply(const keepalive_settings& k) { set_data_listen_options(state_->acceptor, k); }

asio::ip::tcp::endpoint listener::local_endpoint() const {
  std::error_code ec;
  return state_->acceptor.local_endpoint(ec);
}

void listener::start() { do_accept(); }

void listener::close() {
  state_->closed = true;
  std::error_code ignored;
  state_->acceptor.close(ignored);
  state_->backoff.cancel();
}

void listener::do_accept() {
  // `this` is used only after checking the shared state: close() (on this worker,
  // before the listener is destroyed) sets `closed` first.
  accept_target to = pick_();
  asio::io_context& into = *to.io;
  state_->acceptor.async_accept(
      into, [this, st = state_, to = std::move(to)](std::error_code ec, asio::ip::tcp::socket socket) {
        if (st->closed) return;
        on_accept(ec, std::move(socket), to);
      });
}

void listener::on_accept(std::error_code ec, asio::ip::tcp::socket socket, const accept_target& to) {
  if (state_->closed || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors (EMFILE/ENFILE) or buffers: the connection stays queued in the
    // backlog. Retrying at once would spin, so back off, doubling up to 1 s, and count.
    counters_.add(counter::accept_errors, kind_);
    auto& delay = state_->backoff_delay;
    delay = std::clamp(delay * 2, k_min_backoff, k_max_backoff);
    if (std::uint64_t suppressed = 0; log_limit_.allow(suppressed)) {
      spdlog::warn("event=accept_failed listener={} error={} retry_ms={} suppressed={}", role_name(kind_),
                   log::q(ec.message()), delay.count(), suppressed);
    }
    state_->backoff.expires_after(delay);
    state_->backoff.async_wait([this, st = state_](std::error_code wait_ec) {
      if (!wait_ec && !st->closed) do_accept();
    });
    return;
  }
  state_->backoff_delay = std::chrono::milliseconds(0);
  counters_.add(counter::accepted, kind_);
  if (to.io == &io_) {
    to.deliver(std::move(socket));
  } else {
    // The socket already belongs to the target's io_context; only that worker touches it.
    asio::post(*to.io, [deliver = to.deliver, s = std::move(socket)]() mutable { deliver(std::move(s)); });
  }
  do_accept();
}

}  // namespace zp::proxy
