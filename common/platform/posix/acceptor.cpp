#include "common/acceptor.hpp"

#include <sys/socket.h>

namespace zp {

bool port_sharing_supported() { return true; }

void set_listen_options(asio::ip::tcp::acceptor& acceptor, bool reuse_port, std::error_code& ec) {
  using reuse_port_option = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) acceptor.set_option(reuse_port_option(true), ec);
}

}  // namespace zp
