#pragma once
// Opening a listening socket, the same way for every listener.

#include <absl/status/status.h>
#include <asio/ip/tcp.hpp>

namespace zp {

/// Opens, binds and listens; with `reuse_port`, other sockets of this process may bind
/// the same port (one acceptor per worker). On failure the acceptor is left closed and
/// the error names the address.
absl::Status open_acceptor(asio::ip::tcp::acceptor& acceptor, const asio::ip::tcp::endpoint& at, bool reuse_port);

}  // namespace zp
