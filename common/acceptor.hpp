#pragma once
// Opening a listening socket, the same way for every listener.

#include <absl/status/status.h>
#include <asio/ip/tcp.hpp>

namespace zp {

/// Whether several sockets of this process may listen on one port, the kernel spreading
/// connections among them (SO_REUSEPORT on Linux; not on Windows).
bool port_sharing_supported();

/// Opens, binds and listens; with `reuse_port` (and port_sharing_supported()), other
/// sockets of this process may bind the same port (one acceptor per worker). On failure the acceptor is left closed and
/// the error names the address.
absl::Status open_acceptor(asio::ip::tcp::acceptor& acceptor, const asio::ip::tcp::endpoint& at, bool reuse_port);
/// The platform's options for a listening socket, set between open and bind (who else may
/// bind the port: SO_REUSEADDR and SO_REUSEPORT on Linux, SO_EXCLUSIVEADDRUSE on Windows).
void set_listen_options(asio::ip::tcp::acceptor& acceptor, bool reuse_port, std::error_code& ec);

/// What every data connection needs: TCP_NODELAY (records are relayed as they come, and a
/// handshake's flights must not wait for an acknowledgement) and SO_KEEPALIVE. Where
/// accepted sockets inherit both from their listener (Linux), they are set once on the
/// listener and set_data_connection_options does nothing: two system calls less per
/// connection. Elsewhere each accepted socket gets them. Failures are ignored: a
/// connection without them still works.
void set_data_listen_options(asio::ip::tcp::acceptor& acceptor);
void set_data_connection_options(asio::ip::tcp::socket& socket);

}  // namespace zp
