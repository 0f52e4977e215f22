#include "common/socket_handle.hpp"

#include <winsock2.h>

namespace zp {

void ignore_broken_pipe_signals() {}

void close_socket_handle(socket_handle s) {
  if (s != k_no_socket) ::closesocket(s);
}

std::error_code last_socket_error() {
  const int e = ::WSAGetLastError();
  if (e == 0 || e == WSAEWOULDBLOCK || e == WSAEINTR) return {};
  return {e, std::system_category()};
}

void set_io_timeouts(socket_handle s, std::chrono::seconds timeout) {
  const DWORD ms = static_cast<DWORD>(std::chrono::milliseconds(timeout).count());
  ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, reinterpret_cast<const char*>(&ms), sizeof ms);
  ::setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, reinterpret_cast<const char*>(&ms), sizeof ms);
}

std::error_code pending_socket_error(socket_handle s) {
  int error = 0;
  int len = sizeof error;
  if (::getsockopt(s, SOL_SOCKET, SO_ERROR, reinterpret_cast<char*>(&error), &len) != 0) error = ::WSAGetLastError();
  return error == 0 ? std::error_code() : std::error_code(error, std::system_category());
}

}  // namespace zp
