#pragma once
// Watches connections the worker has stopped reading for their peer leaving (PROTOCOL.md
// 3.4: "a waiting half stays watched"). A waiting half whose early-data buffer is full is
// not read (backpressure), so its socket stays readable and a read wait would fire at
// once, forever; what must be noticed is the peer's FIN or a reset, which is what
// EPOLLRDHUP / EPOLLERR / EPOLLHUP report, data pending or not. asio does not ask epoll
// for EPOLLRDHUP, so this keeps an epoll set of its own and lets asio wait on that set's
// descriptor (an epoll fd is readable while one of its members has events).
//
// Owner: its worker_shard; single-threaded (the worker's). A watched fd must be unwatched
// before it is closed or released. Linux only (the Windows port needs its own).

#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>

#include <absl/container/flat_hash_map.h>

#include <functional>

namespace zp::proxy {

class hangup_watch {
 public:
  explicit hangup_watch(asio::io_context& io);
  ~hangup_watch();
  hangup_watch(const hangup_watch&) = delete;
  hangup_watch& operator=(const hangup_watch&) = delete;

  /// Calls `on_hangup` once, on this worker, when `fd`'s peer ends its side or the
  /// connection fails; false if the fd cannot be watched (then poll it some other way).
  bool watch(int fd, std::function<void()> on_hangup);
  /// Stops watching `fd` (no-op if not watched).
  void unwatch(int fd);
  std::size_t watched() const { return watched_.size(); }

 private:
  void arm();
  void on_ready();

  int epoll_fd_ = -1;
  asio::posix::stream_descriptor epoll_;
  absl::flat_hash_map<int, std::function<void()>> watched_;
  bool armed_ = false;
};

}  // namespace zp::proxy
