#include "proxy/listener.hpp"

#include "common/acceptor.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"

#include <spdlog/spdlog.h>
#include <asio/error.hpp>

#include <sys/socket.h>

namespace zp::proxy {
namespace {

constexpr std::chrono::milliseconds k_min_backoff{10};
constexpr std::chrono::milliseconds k_max_backoff{1000};

}  // namespace

listener::listener(asio::io_context& io, listener_kind kind, worker_counters& counters, accept_handler on_accept)
    : acceptor_(io), backoff_(io), kind_(kind), counters_(counters), on_accept_(std::move(on_accept)) {}

absl::Status listener::bind(const asio::ip::tcp::endpoint& at) {
  // SO_REUSEPORT: each worker binds its own acceptor to the same port.
  return open_acceptor(acceptor_, at, /*reuse_port=*/true);
}

asio::ip::tcp::endpoint listener::local_endpoint() const {
  std::error_code ec;
  return acceptor_.local_endpoint(ec);
}

void listener::start() { do_accept(); }

void listener::close() {
  closed_ = true;
  std::error_code ignored;
  acceptor_.close(ignored);
  backoff_.cancel();
}

void listener::do_accept() {
  // `this` outlives the operation: the shard closes the acceptor (completing the
  // accept with operation_aborted) and runs its io_context dry before destroying it.
  acceptor_.async_accept(
      [this](std::error_code ec, asio::ip::tcp::socket socket) { on_accept(ec, std::move(socket)); });
}

void listener::on_accept(std::error_code ec, asio::ip::tcp::socket socket) {
  if (closed_ || ec == asio::error::operation_aborted) return;
  if (ec) {
    // Out of descriptors (EMFILE/ENFILE) or buffers: the connection stays queued in the
    // backlog. Retrying at once would spin, so back off, doubling up to 1 s, and count.
    counters_.accept_errors[static_cast<std::size_t>(kind_)].add();
    backoff_delay_ = std::clamp(backoff_delay_ * 2, k_min_backoff, k_max_backoff);
    if (backoff_delay_ == k_min_backoff || backoff_delay_ == k_max_backoff) {
      spdlog::warn("event=accept_failed listener={} error={} retry_ms={}", listener_name(kind_), log::q(ec.message()),
                   backoff_delay_.count());
    }
    backoff_.expires_after(backoff_delay_);
    backoff_.async_wait([this](std::error_code wait_ec) {
      if (!wait_ec && !closed_) do_accept();
    });
    return;
  }
  backoff_delay_ = std::chrono::milliseconds(0);
  counters_.accepted[static_cast<std::size_t>(kind_)].add();
  on_accept_(std::move(socket));
  do_accept();
}

}  // namespace zp::proxy
