#include "common/acceptor.hpp"

#include <sys/socket.h>

namespace zp {

bool port_sharing_supported() { return true; }

void set_listen_options(asio::ip::tcp::acceptor& acceptor, bool reuse_port, std::error_code& ec) {
  using reuse_port_option = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) acceptor.set_option(reuse_port_option(true), ec);
}

// Linux copies a listener's socket options (the whole socket, inet_csk_clone_lock) into
// every connection it accepts; tests/proxy/listener_test.cpp checks that it still does.
void set_data_listen_options(asio::ip::tcp::acceptor& acceptor) {
  std::error_code ignored;
  acceptor.set_option(asio::ip::tcp::no_delay(true), ignored);
  acceptor.set_option(asio::socket_base::keep_alive(true), ignored);
}

void set_data_connection_options(asio::ip::tcp::socket&) {}

}  // namespace zp
