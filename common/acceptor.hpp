#pragma once
// Opening a listening socket, the same way for every listener.

#include <absl/status/status.h>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>

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

/// TCP keepalive of a data connection (settings tcp_keepalive_*): the first probe after
/// `idle` without traffic, then one every `interval`, the connection reset after `count`
/// unanswered. The defaults notice a dead peer within 7 minutes and keep an idle session
/// alive through a NAT or balancer that forgets flows after 350 s.
struct keepalive_settings {
  std::chrono::seconds idle{300};
  std::chrono::seconds interval{30};
  std::uint32_t count = 4;
  bool operator==(const keepalive_settings&) const = default;
};

/// What every data connection needs: TCP_NODELAY (records are relayed as they come, and a
/// handshake's flights must not wait for an acknowledgement) and keepalive as `k` says.
/// Where accepted sockets inherit these from their listener (Linux), they are set on the
/// listener (again when the settings change) and set_data_connection_options does
/// nothing: five system calls less per connection. Elsewhere each accepted socket gets
/// them. Failures are ignored: a connection without them still works.
void set_data_listen_options(asio::ip::tcp::acceptor& acceptor, const keepalive_settings& k);
void set_data_connection_options(asio::ip::tcp::socket& socket, const keepalive_settings& k);

}  // namespace zp
