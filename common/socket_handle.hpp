#pragma once
// A socket's native handle as asio names it (an int on POSIX, a SOCKET on Windows), for
// the few places that hold one outside an asio socket: a tls_socket's released form on
// its way to another worker, and the hang-up watch.

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <system_error>

namespace zp {

using socket_handle = asio::ip::tcp::socket::native_handle_type;
/// No socket (-1 on POSIX; INVALID_SOCKET, all bits set, on Windows).
inline constexpr socket_handle k_no_socket = static_cast<socket_handle>(-1);

/// A write to a socket whose peer has gone must fail with an error, not kill the process
/// (POSIX: SIGPIPE ignored; Windows has no such signal).
void ignore_broken_pipe_signals();
/// Closes a handle no asio object owns.
void close_socket_handle(socket_handle s);
/// The error the last failed socket call on this thread left (errno, or WSAGetLastError
/// on Windows), or an empty code if that was only "try again later".
std::error_code last_socket_error();
/// Makes blocking reads and writes on `s` fail after `timeout` (SO_RCVTIMEO/SO_SNDTIMEO,
/// whose value types differ per platform).
void set_io_timeouts(socket_handle s, std::chrono::seconds timeout);
/// The pending error of a socket (SO_ERROR), empty if none.
std::error_code pending_socket_error(socket_handle s);

}  // namespace zp
