// The real daemon under a fake service manager: the test binds the NOTIFY_SOCKET that
// systemd would, sets WATCHDOG_USEC, and reads what `zoneproxy run` tells it.

#include "tests/support/daemon.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstring>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

namespace zp::test {
namespace {

using namespace std::chrono_literals;

/// The service manager's end: a bound AF_UNIX datagram socket, one message per datagram.
class notify_socket {
 public:
  /// `name` is what NOTIFY_SOCKET will hold: a path, or "@name" for the abstract namespace.
  explicit notify_socket(std::string name) : name_(std::move(name)) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) throw std::runtime_error("socket");
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, name_.data(), name_.size());
    auto length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name_.size());
    if (name_[0] == '@') address.sun_path[0] = '\0';
    if (::bind(fd_, reinterpret_cast<sockaddr*>(&address), length) != 0) throw std::runtime_error("bind " + name_);
  }
  ~notify_socket() { ::close(fd_); }
  notify_socket(const notify_socket&) = delete;
  notify_socket& operator=(const notify_socket&) = delete;

  std::string env() const { return "NOTIFY_SOCKET=" + name_; }

  /// Reads datagrams until `seen` holds the assignment `line` (e.g. "READY=1") `times`
  /// times or the deadline passes; every datagram read is appended to `seen`, split into
  /// its assignments.
  bool wait_for(const std::string& line, std::vector<std::string>& seen, std::chrono::milliseconds timeout = 20s,
                std::ptrdiff_t times = 1) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto enough = [&] { return std::count(seen.begin(), seen.end(), line) >= times; };
    if (enough()) return true;
    while (true) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return false;
      pollfd p{fd_, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) continue;
      char buf[4096];
      const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
      if (n <= 0) continue;
      std::string_view message(buf, static_cast<std::size_t>(n));
      while (!message.empty()) {
        const auto nl = message.find('\n');
        seen.emplace_back(message.substr(0, nl));
        message.remove_prefix(nl == std::string_view::npos ? message.size() : nl + 1);
      }
      if (enough()) return true;
    }
  }

 private:
  std::string name_;
  int fd_ = -1;
};

std::ptrdiff_t index_of(const std::vector<std::string>& seen, const std::string& line) {
  auto it = std::find(seen.begin(), seen.end(), line);
  return it == seen.end() ? -1 : it - seen.begin();
}

std::string joined(const std::vector<std::string>& seen) {
  std::string out;
  for (const auto& s : seen) out += s + " | ";
  return out;
}

std::string unique_abstract_name() {
  std::random_device rd;
  return "@zoneproxy-test-notify-" + std::to_string(::getpid()) + "-" + std::to_string(rd());
}

// The whole life of a service in order: ready once listening, watchdog pings while
// running, stopping when SIGTERM starts the drain, then exit 0.
void expect_ready_watchdog_stopping(notify_socket& sock) {
  daemon d({}, {}, {sock.env(), "WATCHDOG_USEC=200000"});  // pings every 100 ms
  std::vector<std::string> seen;
  ASSERT_TRUE(sock.wait_for("READY=1", seen)) << joined(seen) << "\n" << d.proc().output();
  // READY=1 comes only once the control API is listening.
  EXPECT_NE(listening_port(d.proc().output(), "provisioning"), 0) << d.proc().output();
  // Two pings: the first is sent while the daemon starts up, the second from its running
  // control loop, by which time its SIGTERM handler is installed.
  ASSERT_TRUE(sock.wait_for("WATCHDOG=1", seen, 20s, 2)) << joined(seen) << "\n" << d.proc().output();

  d.proc().signal(SIGTERM);
  ASSERT_TRUE(sock.wait_for("STOPPING=1", seen)) << joined(seen) << "\n" << d.proc().output();
  EXPECT_EQ(d.proc().wait(40s), 0) << d.proc().output();

  const auto ready = index_of(seen, "READY=1");
  const auto ping = index_of(seen, "WATCHDOG=1");
  const auto stopping = index_of(seen, "STOPPING=1");
  EXPECT_LT(ready, ping) << joined(seen);
  EXPECT_LT(ping, stopping) << joined(seen);
  EXPECT_EQ(std::count(seen.begin(), seen.end(), "READY=1"), 1) << joined(seen);
}

TEST(service_notify, ReadyWatchdogStoppingArriveInOrderOnPathSocket) {
  temp_dir dir;
  notify_socket sock((dir.path() / "notify.sock").string());
  expect_ready_watchdog_stopping(sock);
}

TEST(service_notify, ReadyWatchdogStoppingArriveInOrderOnAbstractSocket) {
  notify_socket sock(unique_abstract_name());
  expect_ready_watchdog_stopping(sock);
}

// sd_watchdog_enabled(3): WATCHDOG_PID naming another process means the watchdog is not
// ours. Absence can only be shown over a window: 20 would-be ping intervals here (which
// also leaves the daemon time to install its SIGTERM handler, there being no ping to
// wait for).
TEST(service_notify, WatchdogPidOfAnotherProcessSendsNoPings) {
  notify_socket sock(unique_abstract_name());
  daemon d({}, {}, {sock.env(), "WATCHDOG_USEC=20000", "WATCHDOG_PID=1"});
  std::vector<std::string> seen;
  ASSERT_TRUE(sock.wait_for("READY=1", seen)) << joined(seen) << "\n" << d.proc().output();
  EXPECT_FALSE(sock.wait_for("WATCHDOG=1", seen, 200ms)) << joined(seen);
  d.proc().signal(SIGTERM);
  ASSERT_TRUE(sock.wait_for("STOPPING=1", seen)) << joined(seen);
  EXPECT_EQ(d.proc().wait(40s), 0) << d.proc().output();
  EXPECT_EQ(index_of(seen, "WATCHDOG=1"), -1) << joined(seen);
}

// Not under a service manager (no NOTIFY_SOCKET): the daemon runs and stops as before.
TEST(service_notify, WithoutNotifySocketTheDaemonRunsAndStops) {
  ::unsetenv("NOTIFY_SOCKET");  // in case the test itself runs under a service manager
  daemon d({}, {}, {"WATCHDOG_USEC=200000"});
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  EXPECT_EQ(d.stop(), 0) << d.proc().output();
  EXPECT_EQ(d.proc().output().find("event=notify_failed"), std::string::npos) << d.proc().output();
}

}  // namespace
}  // namespace zp::test
