// Windows: there is no epoll, and a select()/async_wait readiness on a socket with unread
// data says nothing about the peer. WSAPoll does: POLLHUP once the peer has shut down or
// reset the connection, POLLERR on failure, whatever is pending. Watched sockets are
// therefore polled (timeout 0, never blocking the worker) on a short timer while any are
// watched: a hang-up is noticed within k_poll_interval. Waiting halves are bounded
// (PROTOCOL.md 3.6), so one sweep is a bounded amount of work.
#include "proxy/hangup_watch.hpp"

#include <absl/container/flat_hash_map.h>
#include <asio/steady_timer.hpp>

#include <winsock2.h>

#include <chrono>
#include <utility>
#include <vector>

namespace zp::proxy {
namespace {

constexpr std::chrono::milliseconds k_poll_interval{200};

}  // namespace

struct hangup_watch::impl {
  explicit impl(asio::io_context& io) : timer(io) {}

  void arm();
  void sweep();

  asio::steady_timer timer;
  absl::flat_hash_map<socket_handle, std::function<void()>> watched;
  std::vector<WSAPOLLFD> polled;  // reused between sweeps
  bool armed = false;
};

hangup_watch::hangup_watch(asio::io_context& io) : impl_(std::make_unique<impl>(io)) {}

hangup_watch::~hangup_watch() = default;

std::size_t hangup_watch::watched() const { return impl_->watched.size(); }

bool hangup_watch::watch(socket_handle s, std::function<void()> on_hangup) {
  if (s == k_no_socket) return false;
  impl_->watched[s] = std::move(on_hangup);
  impl_->arm();
  return true;
}

void hangup_watch::unwatch(socket_handle s) { impl_->watched.erase(s); }

void hangup_watch::impl::arm() {
  if (armed || watched.empty()) return;
  armed = true;
  // `this` outlives the wait: ~impl destroys the timer, which completes it aborted.
  timer.expires_after(k_poll_interval);
  timer.async_wait([this](std::error_code ec) {
    if (ec) return;
    armed = false;
    sweep();
  });
}

void hangup_watch::impl::sweep() {
  polled.clear();
  // No POLLRDNORM: pending data is expected; POLLHUP and POLLERR are always reported.
  for (const auto& [s, callback] : watched) polled.push_back({s, 0, 0});
  if (!polled.empty() && ::WSAPoll(polled.data(), static_cast<ULONG>(polled.size()), 0) > 0) {
    for (const WSAPOLLFD& p : polled) {
      if ((p.revents & (POLLHUP | POLLERR | POLLNVAL)) == 0) continue;
      auto it = watched.find(p.fd);
      if (it == watched.end()) continue;  // unwatched by an earlier callback of this sweep
      std::function<void()> callback = std::move(it->second);
      watched.erase(it);
      callback();
    }
  }
  arm();
}

}  // namespace zp::proxy
