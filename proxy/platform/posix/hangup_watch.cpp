// Linux: asio does not ask epoll for EPOLLRDHUP, so this keeps an epoll set of its own
// (EPOLLRDHUP | EPOLLERR | EPOLLHUP, not EPOLLIN: pending data is expected) and lets asio
// wait on that set's descriptor (an epoll fd is readable while one of its members has
// events).
#include "proxy/hangup_watch.hpp"

#include <absl/container/flat_hash_map.h>
#include <asio/posix/stream_descriptor.hpp>

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <utility>

namespace zp::proxy {

struct hangup_watch::impl {
  explicit impl(asio::io_context& io) : epoll(io) {
    epoll_fd = ::epoll_create1(EPOLL_CLOEXEC);
    if (epoll_fd < 0) return;  // watch() then reports failure
    std::error_code ec;
    epoll.assign(epoll_fd, ec);
    if (ec) {
      ::close(epoll_fd);
      epoll_fd = -1;
    }
  }
  ~impl() {
    std::error_code ignored;
    epoll.close(ignored);  // closes epoll_fd
  }

  void arm();
  void on_ready();
  void unwatch(int fd);

  int epoll_fd = -1;
  asio::posix::stream_descriptor epoll;
  absl::flat_hash_map<int, std::function<void()>> watched;
  bool armed = false;
};

hangup_watch::hangup_watch(asio::io_context& io) : impl_(std::make_unique<impl>(io)) {}

hangup_watch::~hangup_watch() = default;

std::size_t hangup_watch::watched() const { return impl_->watched.size(); }

bool hangup_watch::watch(socket_handle s, std::function<void()> on_hangup) {
  const int fd = s;
  if (impl_->epoll_fd < 0 || fd < 0) return false;
  epoll_event ev{};
  ev.events = EPOLLRDHUP | EPOLLERR | EPOLLHUP;
  ev.data.fd = fd;
  if (::epoll_ctl(impl_->epoll_fd, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  impl_->watched[fd] = std::move(on_hangup);
  impl_->arm();
  return true;
}

void hangup_watch::unwatch(socket_handle s) { impl_->unwatch(s); }

void hangup_watch::impl::unwatch(int fd) {
  if (watched.erase(fd) == 0) return;
  ::epoll_ctl(epoll_fd, EPOLL_CTL_DEL, fd, nullptr);
}

void hangup_watch::impl::arm() {
  if (armed || watched.empty()) return;
  armed = true;
  // `this` outlives the wait: the shard destroys the watch only after closing its
  // halves, and ~impl closes the descriptor, which completes the wait aborted.
  epoll.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
    if (ec) return;
    armed = false;
    on_ready();
  });
}

void hangup_watch::impl::on_ready() {
  std::array<epoll_event, 64> events;
  int n = 0;
  do {
    n = ::epoll_wait(epoll_fd, events.data(), static_cast<int>(events.size()), 0);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      auto it = watched.find(fd);
      if (it == watched.end()) continue;  // unwatched by an earlier callback of this round
      std::function<void()> callback = std::move(it->second);
      unwatch(fd);
      callback();
    }
  } while (n == static_cast<int>(events.size()));
  arm();
}

}  // namespace zp::proxy
