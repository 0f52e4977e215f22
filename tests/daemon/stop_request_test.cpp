// request_daemon_stop(): how the Windows service host's STOP and SHUTDOWN controls reach
// the daemon. Runs the real daemon in-process (real state dir, real listener on
// loopback) and asks it to stop from another thread, as the SCM's control thread does.

#include "daemon/daemon.hpp"
#include "daemon/daemon_config.hpp"
#include "tests/support/process.hpp"

#include <gtest/gtest.h>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <future>
#include <thread>

namespace zp::test {
namespace {

using namespace std::chrono_literals;

// A port nothing listens on right now (bound then released; loopback only).
std::uint16_t free_port() {
  asio::io_context io;
  asio::ip::tcp::acceptor a(io, {asio::ip::make_address("127.0.0.1"), 0});
  return a.local_endpoint().port();
}

bool accepts(std::uint16_t port) {
  asio::io_context io;
  asio::ip::tcp::socket s(io);
  std::error_code ec;
  s.connect({asio::ip::make_address("127.0.0.1"), port}, ec);
  return !ec;
}

daemon_config config_in(const temp_dir& dir, std::uint16_t port) {
  daemon_config c;
  c.state_dir = (dir.path() / "state").string();
  c.bind = "127.0.0.1";
  c.provisioning_port = port;
  c.workers = 1;
  return c;
}

TEST(StopRequest, DrainsARunningDaemonWhichReturnsOkAndClosesItsPort) {
  temp_dir dir;
  const std::uint16_t port = free_port();
  auto done = std::async(std::launch::async, [&] { return run_daemon(config_in(dir, port)); });
  bool up = false;
  for (int i = 0; i < 200 && !up; ++i) {
    ASSERT_NE(done.wait_for(50ms), std::future_status::ready) << "daemon returned early: " << done.get();
    up = accepts(port);
  }
  ASSERT_TRUE(up) << "control API never listened on " << port;

  request_daemon_stop();
  ASSERT_EQ(done.wait_for(20s), std::future_status::ready) << "daemon still running 20 s after the stop request";
  EXPECT_TRUE(done.get().ok());
  EXPECT_FALSE(accepts(port)) << "the control API still accepts after the daemon returned";
}

TEST(StopRequest, OneMadeBeforeTheDaemonListensIsNotLost) {
  // The SCM may send STOP while the service is still START_PENDING.
  temp_dir dir;
  request_daemon_stop();
  auto done = std::async(std::launch::async, [&] { return run_daemon(config_in(dir, free_port())); });
  ASSERT_EQ(done.wait_for(20s), std::future_status::ready) << "an early stop request was lost";
  EXPECT_TRUE(done.get().ok());
  EXPECT_TRUE(std::filesystem::exists(dir.path() / "state" / "identity")) << "it did start before stopping";
}

}  // namespace
}  // namespace zp::test
