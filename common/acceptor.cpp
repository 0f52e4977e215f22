#include "common/acceptor.hpp"

#include "common/strings.hpp"

#include <sys/socket.h>

namespace zp {

absl::Status open_acceptor(asio::ip::tcp::acceptor& acceptor, const asio::ip::tcp::endpoint& at, bool reuse_port) {
  using reuse_port_option = asio::detail::socket_option::boolean<SOL_SOCKET, SO_REUSEPORT>;
  std::error_code ec;
  acceptor.open(at.protocol(), ec);
  if (!ec) acceptor.set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec && reuse_port) acceptor.set_option(reuse_port_option(true), ec);
  if (!ec) acceptor.bind(at, ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    std::error_code ignored;
    acceptor.close(ignored);
    return absl::UnavailableError(
        str_cat("cannot listen on ", at.address().to_string(), ":", at.port(), ": ", ec.message()));
  }
  return absl::OkStatus();
}

}  // namespace zp
