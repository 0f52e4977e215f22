#include "common/acceptor.hpp"

#include "common/strings.hpp"

namespace zp {

absl::Status open_acceptor(asio::ip::tcp::acceptor& acceptor, const asio::ip::tcp::endpoint& at, bool reuse_port) {
  std::error_code ec;
  acceptor.open(at.protocol(), ec);
  if (!ec) set_listen_options(acceptor, reuse_port, ec);
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
