#pragma once
// Watches connections the worker has stopped reading for their peer leaving (PROTOCOL.md
// 3.4: "a waiting half stays watched"). A waiting half whose early-data buffer is full is
// not read (backpressure), so its socket stays readable and a read wait would fire at
// once, forever; what must be noticed is the peer's FIN or a reset, data pending or not.
// How that is asked of the kernel differs per platform (platform/<name>/hangup_watch.cpp:
// an epoll set of its own with EPOLLRDHUP on Linux, WSAPoll's POLLHUP on Windows).
//
// Owner: its worker_shard; single-threaded (the worker's). A watched socket must be
// unwatched before it is closed or released.

#include "common/socket_handle.hpp"

#include <asio/io_context.hpp>

#include <functional>
#include <memory>

namespace zp::proxy {

class hangup_watch {
 public:
  explicit hangup_watch(asio::io_context& io);
  ~hangup_watch();
  hangup_watch(const hangup_watch&) = delete;
  hangup_watch& operator=(const hangup_watch&) = delete;

  /// Calls `on_hangup` once, on this worker, when `s`'s peer ends its side or the
  /// connection fails; false if the socket cannot be watched (then poll it some other way).
  bool watch(socket_handle s, std::function<void()> on_hangup);
  /// Stops watching `s` (no-op if not watched).
  void unwatch(socket_handle s);
  std::size_t watched() const;

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace zp::proxy
