#include "common/acceptor.hpp"

#include <netinet/in.h>
#include <netinet/tcp.h>
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
void set_data_listen_options(asio::ip::tcp::acceptor& acceptor, const keepalive_settings& k) {
  using keep_idle = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE>;
  using keep_interval = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL>;
  using keep_count = asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT>;
  std::error_code ignored;
  acceptor.set_option(asio::ip::tcp::no_delay(true), ignored);
  acceptor.set_option(asio::socket_base::keep_alive(true), ignored);
  acceptor.set_option(keep_idle(static_cast<int>(k.idle.count())), ignored);
  acceptor.set_option(keep_interval(static_cast<int>(k.interval.count())), ignored);
  acceptor.set_option(keep_count(static_cast<int>(k.count)), ignored);
}

void set_data_connection_options(asio::ip::tcp::socket&, const keepalive_settings&) {}

}  // namespace zp
