// Windows: no SO_REUSEPORT, so one socket listens per port and hands connections to the
// workers (proxy/listener.hpp). SO_REUSEADDR means something else here (another process
// may bind the same port and steal connections), so it is never set; SO_EXCLUSIVEADDRUSE
// is, so nobody else can bind the port while it is ours.
#include "common/acceptor.hpp"

#include <winsock2.h>

namespace zp {

bool port_sharing_supported() { return false; }

void set_listen_options(asio::ip::tcp::acceptor& acceptor, bool, std::error_code& ec) {
  using exclusive_address_use = asio::detail::socket_option::boolean<SOL_SOCKET, SO_EXCLUSIVEADDRUSE>;
  acceptor.set_option(exclusive_address_use(true), ec);
}

// Winsock documents no inheritance of TCP_NODELAY, so each accepted socket gets both.
void set_data_listen_options(asio::ip::tcp::acceptor&) {}

void set_data_connection_options(asio::ip::tcp::socket& socket) {
  std::error_code ignored;
  socket.set_option(asio::ip::tcp::no_delay(true), ignored);
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
}

}  // namespace zp
