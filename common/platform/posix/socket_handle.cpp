#include "common/socket_handle.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>

namespace zp {

void ignore_broken_pipe_signals() { std::signal(SIGPIPE, SIG_IGN); }

void close_socket_handle(socket_handle s) {
  if (s != k_no_socket) ::close(s);
}

std::error_code last_socket_error() {
  const int e = errno;
  if (e == 0 || e == EAGAIN || e == EWOULDBLOCK || e == EINTR) return {};
  return {e, std::system_category()};
}

void set_io_timeouts(socket_handle s, std::chrono::seconds timeout) {
  const timeval tv{static_cast<time_t>(timeout.count()), 0};
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

std::error_code pending_socket_error(socket_handle s) {
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(s, SOL_SOCKET, SO_ERROR, &error, &len) != 0) error = errno;
  return error == 0 ? std::error_code() : std::error_code(error, std::system_category());
}

}  // namespace zp
