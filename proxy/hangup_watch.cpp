#include "proxy/hangup_watch.hpp"

#include <sys/epoll.h>
#include <unistd.h>

#include <array>
#include <utility>

namespace zp::proxy {

hangup_watch::hangup_watch(asio::io_context& io) : epoll_(io) {
  epoll_fd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) return;  // watch() then reports failure
  std::error_code ec;
  epoll_.assign(epoll_fd_, ec);
  if (ec) {
    ::close(epoll_fd_);
    epoll_fd_ = -1;
  }
}

hangup_watch::~hangup_watch() {
  std::error_code ignored;
  epoll_.close(ignored);  // closes epoll_fd_
}

bool hangup_watch::watch(int fd, std::function<void()> on_hangup) {
  if (epoll_fd_ < 0 || fd < 0) return false;
  epoll_event ev{};
  ev.events = EPOLLRDHUP | EPOLLERR | EPOLLHUP;  // not EPOLLIN: pending data is expected
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) != 0) return false;
  watched_[fd] = std::move(on_hangup);
  arm();
  return true;
}

void hangup_watch::unwatch(int fd) {
  if (watched_.erase(fd) == 0) return;
  ::epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
}

void hangup_watch::arm() {
  if (armed_ || watched_.empty()) return;
  armed_ = true;
  // `this` outlives the wait: the shard destroys this object only after closing its
  // halves, and ~hangup_watch closes the descriptor, which completes the wait aborted.
  epoll_.async_wait(asio::posix::stream_descriptor::wait_read, [this](std::error_code ec) {
    if (ec) return;
    armed_ = false;
    on_ready();
  });
}

void hangup_watch::on_ready() {
  std::array<epoll_event, 64> events;
  int n = 0;
  do {
    n = ::epoll_wait(epoll_fd_, events.data(), static_cast<int>(events.size()), 0);
    for (int i = 0; i < n; ++i) {
      const int fd = events[static_cast<std::size_t>(i)].data.fd;
      auto it = watched_.find(fd);
      if (it == watched_.end()) continue;  // unwatched by an earlier callback of this round
      std::function<void()> callback = std::move(it->second);
      unwatch(fd);
      callback();
    }
  } while (n == static_cast<int>(events.size()));
  arm();
}

}  // namespace zp::proxy
