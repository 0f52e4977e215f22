// A data-plane listener: one acceptor per worker on one port (SO_REUSEPORT), every
// accepted connection counted and handed on, nothing accepted after close().

#include "proxy/listener.hpp"

#include <gtest/gtest.h>
#include <asio/io_context.hpp>

#include <chrono>
#include <vector>

namespace zp::proxy {
namespace {

using asio::ip::tcp;
using namespace std::chrono_literals;

const tcp::endpoint k_any_loopback{asio::ip::make_address("127.0.0.1"), 0};

template <typename Done>
bool run_until(asio::io_context& io, Done done) {
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(10ms);
  return done();
}

TEST(Listener, TwoListenersShareOnePortAndEveryConnectionIsCountedAndHandedOn) {
  asio::io_context io;
  worker_counters counters;
  std::vector<tcp::socket> accepted;
  auto keep = [&](tcp::socket s) { accepted.push_back(std::move(s)); };
  listener a(io, role::endpoint, counters, keep), b(io, role::endpoint, counters, keep);
  ASSERT_TRUE(a.bind(k_any_loopback).ok());
  ASSERT_TRUE(b.bind({k_any_loopback.address(), a.local_endpoint().port()}).ok()) << "SO_REUSEPORT";
  a.start();
  b.start();
  std::vector<tcp::socket> clients;
  for (int i = 0; i < 20; ++i) clients.emplace_back(io).connect(a.local_endpoint());
  EXPECT_TRUE(run_until(io, [&] { return accepted.size() == 20; }));
  EXPECT_EQ(counters.get(cell(counter::accepted, std::size_t(role::endpoint))), 20u);
  EXPECT_EQ(counters.get(cell(counter::accepted, std::size_t(role::module_server))), 0u);
  a.close();
  b.close();
}

TEST(Listener, NothingIsAcceptedAfterClose) {
  asio::io_context io;
  worker_counters counters;
  int handed_on = 0;
  listener l(io, role::module_server, counters, [&](tcp::socket) { ++handed_on; });
  ASSERT_TRUE(l.bind(k_any_loopback).ok());
  const auto at = l.local_endpoint();
  l.start();
  l.close();
  tcp::socket client(io);
  std::error_code ec;
  client.connect(at, ec);
  EXPECT_EQ(ec, asio::error::connection_refused);
  io.restart();
  io.run_for(50ms);  // a completion queued before close() must not hand anything on
  EXPECT_EQ(handed_on, 0);
}

TEST(Listener, BindingATakenPortWithoutReusePortFailsNamingTheAddress) {
  asio::io_context io;
  tcp::acceptor taken(io, k_any_loopback);  // no SO_REUSEPORT
  worker_counters counters;
  listener l(io, role::endpoint, counters, [](tcp::socket) {});
  const absl::Status st = l.bind(taken.local_endpoint());
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("127.0.0.1"), std::string_view::npos) << st;
}

}  // namespace
}  // namespace zp::proxy
