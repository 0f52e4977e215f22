#include "tests/support/tls_pair.hpp"

#include <asio/ip/tcp.hpp>

namespace zp::test {

void tls_pair::connect(tls_identity identity, const char* cipher) {
  using asio::ip::tcp;
  identity_ = std::move(identity);
  server_tls_options o;
  o.identities = {&identity_};
  auto sctx = make_server_ctx(o);
  auto cctx = make_client_ctx(nullptr, {});
  ASSERT_TRUE(sctx.ok()) << sctx.status();
  ASSERT_TRUE(cctx.ok()) << cctx.status();
  server_ctx_ = std::move(*sctx);
  client_ctx_ = std::move(*cctx);
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  tcp::socket client_tcp(io), server_tcp(io);
  client_tcp.connect(acceptor.local_endpoint());
  acceptor.accept(server_tcp);
  client.emplace(std::move(client_tcp), client_ctx_.get(), /*server=*/false);
  server.emplace(std::move(server_tcp), server_ctx_.get(), /*server=*/true);
  if (cipher != nullptr) {
    ASSERT_EQ(SSL_set_cipher_list(client->ssl(), cipher), 1);
  }
  std::error_code cec = asio::error::would_block, sec = asio::error::would_block;
  client->async_handshake([&](std::error_code ec, std::size_t) { cec = ec; });
  server->async_handshake([&](std::error_code ec, std::size_t) { sec = ec; });
  run_until(io, [&] { return cec != asio::error::would_block && sec != asio::error::would_block; });
  ASSERT_FALSE(cec) << cec.message();
  ASSERT_FALSE(sec) << sec.message();
}

}  // namespace zp::test
