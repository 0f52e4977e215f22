// A data-plane listener: one acceptor per worker on one port (SO_REUSEPORT), every
// accepted connection counted and handed on, nothing accepted after close(); and, where
// ports cannot be shared (Windows), one listener accepting for several workers.

#include "proxy/listener.hpp"

#include "common/acceptor.hpp"

#include <gtest/gtest.h>

#ifdef __linux__
#include <netinet/in.h>
#include <netinet/tcp.h>
#endif
#include <asio/io_context.hpp>

#include <atomic>
#include <chrono>
#include <thread>
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

// The Windows path, run here: connections are spread over two workers, each accepted
// into its worker's io_context and handed over on that worker's thread.
TEST(Listener, OneListenerHandsConnectionsToEachWorkerOnItsOwnThread) {
  asio::io_context home, other;
  auto other_guard = asio::make_work_guard(other);
  std::thread other_thread([&] { other.run(); });
  const auto other_id = other_thread.get_id();
  worker_counters counters;
  std::vector<tcp::socket> on_home;
  std::vector<tcp::socket> on_other;  // touched on other_thread only until it is joined
  std::atomic<int> other_count{0}, wrong_thread{0}, wrong_context{0};
  asio::io_context* targets[] = {&home, &other};
  std::size_t next = 0;
  listener l(home, role::endpoint, counters, [&]() -> listener::accept_target {
    asio::io_context* io = targets[next++ % 2];
    if (io == &home) {
      return {io, [&](tcp::socket s) {
                if (std::this_thread::get_id() == other_id) ++wrong_thread;
                on_home.push_back(std::move(s));
              }};
    }
    return {io, [&](tcp::socket s) {
              if (std::this_thread::get_id() != other_id) ++wrong_thread;
              // The socket must belong to the worker it is handed to, or its waits would
              // complete on another thread.
              if (&asio::query(s.get_executor(), asio::execution::context) != &other) ++wrong_context;
              on_other.push_back(std::move(s));
              ++other_count;
            }};
  });
  ASSERT_TRUE(l.bind(k_any_loopback).ok());
  l.start();
  std::vector<tcp::socket> clients;
  for (int i = 0; i < 10; ++i) clients.emplace_back(home).connect(l.local_endpoint());
  EXPECT_TRUE(run_until(home, [&] { return on_home.size() == 5 && other_count == 5; }))
      << on_home.size() << " on the listener's worker, " << other_count << " on the other";
  l.close();
  other_guard.reset();
  other.stop();
  other_thread.join();
  EXPECT_EQ(wrong_thread, 0) << "a connection was handed over on the wrong thread";
  EXPECT_EQ(wrong_context, 0) << "a connection was accepted into the wrong io_context";
  EXPECT_EQ(counters.get(cell(counter::accepted, std::size_t(role::endpoint))), 10u);
}

// Every data connection relays records as they come (TCP_NODELAY) and is kept alive with
// the keepalive settings in force, also after they change, however the platform gets
// them there (set on the listener and inherited on Linux, set per connection elsewhere).
TEST(Listener, AcceptedConnectionsHaveNoDelayAndTheKeepaliveSettingsInForce) {
  asio::io_context io;
  worker_counters counters;
  std::vector<tcp::socket> accepted;
  keepalive_settings in_force{std::chrono::seconds(123), std::chrono::seconds(17), 5};
  listener l(io, role::module_server, counters, [&](tcp::socket s) {
    set_data_connection_options(s, in_force);
    accepted.push_back(std::move(s));
  });
  ASSERT_TRUE(l.bind(k_any_loopback).ok());
  l.apply(in_force);
  l.start();
  auto check = [&](tcp::socket& s, const keepalive_settings& want) {
    tcp::no_delay no_delay;
    asio::socket_base::keep_alive keep_alive;
    s.get_option(no_delay);
    s.get_option(keep_alive);
    EXPECT_TRUE(no_delay.value());
    EXPECT_TRUE(keep_alive.value());
#ifdef __linux__
    asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPIDLE> idle;
    asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPINTVL> interval;
    asio::detail::socket_option::integer<IPPROTO_TCP, TCP_KEEPCNT> count;
    s.get_option(idle);
    s.get_option(interval);
    s.get_option(count);
    EXPECT_EQ(idle.value(), want.idle.count());
    EXPECT_EQ(interval.value(), want.interval.count());
    EXPECT_EQ(count.value(), static_cast<int>(want.count));
#endif
  };
  tcp::socket first(io);
  first.connect(l.local_endpoint());
  ASSERT_TRUE(run_until(io, [&] { return accepted.size() == 1; }));
  check(accepted[0], in_force);
  in_force = {std::chrono::seconds(600), std::chrono::seconds(60), 3};
  l.apply(in_force);
  tcp::socket second(io);
  second.connect(l.local_endpoint());
  ASSERT_TRUE(run_until(io, [&] { return accepted.size() == 2; }));
  check(accepted[1], in_force);
  l.close();
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
