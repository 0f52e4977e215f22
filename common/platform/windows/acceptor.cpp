// Windows: no SO_REUSEPORT, so one socket listens per port and hands connections to the
// workers (proxy/listener.hpp). SO_REUSEADDR means something else here (another process
// may bind the same port and steal connections), so it is never set; SO_EXCLUSIVEADDRUSE
// is, so nobody else can bind the port while it is ours.
#include "common/acceptor.hpp"

#include <winsock2.h>

#include <mstcpip.h>

namespace zp {

bool port_sharing_supported() { return false; }

void set_listen_options(asio::ip::tcp::acceptor& acceptor, bool, std::error_code& ec) {
  using exclusive_address_use = asio::detail::socket_option::boolean<SOL_SOCKET, SO_EXCLUSIVEADDRUSE>;
  acceptor.set_option(exclusive_address_use(true), ec);
}

// Winsock documents no inheritance of TCP_NODELAY or keepalive timing, so each accepted
// socket gets them.
void set_data_listen_options(asio::ip::tcp::acceptor&, const keepalive_settings&) {}

void set_data_connection_options(asio::ip::tcp::socket& socket, const keepalive_settings& k) {
  std::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  // Idle time and interval in milliseconds; the probe count through TCP_KEEPCNT (16 in
  // newer SDKs' ws2ipdef.h, Windows 10 1703 and later; elsewhere the system's 10).
  ::tcp_keepalive values{1, static_cast<u_long>(k.idle.count() * 1000), static_cast<u_long>(k.interval.count() * 1000)};
  DWORD returned = 0;
  ::WSAIoctl(socket.native_handle(), SIO_KEEPALIVE_VALS, &values, sizeof values, nullptr, 0, &returned, nullptr,
             nullptr);
  constexpr int k_tcp_keepcnt = 16;
  using keep_count = asio::detail::socket_option::integer<IPPROTO_TCP, k_tcp_keepcnt>;
  socket.set_option(keep_count(static_cast<int>(k.count)), ignored);
}

}  // namespace zp
