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

}  // namespace zp
