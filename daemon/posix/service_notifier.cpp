// systemd's notify protocol, spoken directly (sd_notify(3) "Notes"): one AF_UNIX
// datagram per message to the socket named by $NOTIFY_SOCKET, either a path ("/run/...")
// or an abstract name ("@..."), carrying newline-separated KEY=VALUE assignments. We do
// not link libsystemd for this: the protocol is a documented, stable interface and this is
// all of it that a service that neither forks nor passes fds needs.
//
// Environment decisions:
// - NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID are read once, when the notifier is
//   made, and left set. sd_notify() can unset them (unset_environment), which matters for
//   a service that forks children that would otherwise talk for it; we start no child,
//   the unit's NotifyAccess=main makes systemd ignore any other PID anyway, and unsetenv()
//   would race with getenv() on the worker threads that are already running by then
//   (localtime() reads TZ), which glibc does not make safe.
// - WATCHDOG_USEC (sd_watchdog_enabled(3)): the watchdog is on when it is a positive
//   integer and WATCHDOG_PID is unset or names this process; we then ping every half of
//   that timeout, as the man page recommends.
// - A "vsock:" NOTIFY_SOCKET (systemd 253+, VMs) is not supported: the notifier stays
//   silent and says so once in the log.
#include "daemon/service_notifier.hpp"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string>
#include <system_error>

namespace zp {
namespace {

/// Parses a positive decimal integer that fills all of `text`.
std::optional<std::uint64_t> parse_positive(const char* text) {
  if (text == nullptr || *text == '\0') return std::nullopt;
  const char* end = text + std::strlen(text);
  std::uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text, end, value);
  if (ec != std::errc() || ptr != end || value == 0) return std::nullopt;
  return value;
}

/// The watchdog interval per sd_watchdog_enabled(3): half of WATCHDOG_USEC.
std::optional<std::chrono::microseconds> watchdog_from_env() {
  auto usec = parse_positive(std::getenv("WATCHDOG_USEC"));
  if (!usec) return std::nullopt;
  if (const char* pid_text = std::getenv("WATCHDOG_PID"); pid_text != nullptr) {
    auto pid = parse_positive(pid_text);
    if (!pid || *pid != static_cast<std::uint64_t>(::getpid())) return std::nullopt;  // meant for another process
  }
  return std::chrono::microseconds(std::max<std::uint64_t>(*usec / 2, 1));
}

/// Owner: the daemon, through make_service_notifier(). Immutable after construction, so
/// any thread may send; each message is one sendto(), which the kernel delivers whole.
class systemd_notifier final : public service_notifier {
 public:
  systemd_notifier(sockaddr_un address, socklen_t address_len, std::optional<std::chrono::microseconds> watchdog)
      : address_(address), address_len_(address_len), watchdog_(watchdog) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) report_failure(errno);
  }
  ~systemd_notifier() override {
    if (fd_ >= 0) ::close(fd_);
  }
  systemd_notifier(const systemd_notifier&) = delete;
  systemd_notifier& operator=(const systemd_notifier&) = delete;

  void ready() override { send("READY=1\nSTATUS=serving"); }
  void stopping() override { send("STOPPING=1\nSTATUS=draining"); }
  void watchdog() override {
    if (watchdog_) send("WATCHDOG=1");
  }
  std::optional<std::chrono::microseconds> watchdog_interval() const override { return watchdog_; }
  void status(std::string_view text) override {
    std::string message = "STATUS=";
    // A newline would start a new assignment: the status is one line by definition.
    for (char c : text) message += (c == '\n' || c == '\r') ? ' ' : c;
    send(message);
  }

 private:
  void send(std::string_view message) {
    if (fd_ < 0) return;
    ssize_t n;
    do {
      n = ::sendto(fd_, message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(&address_),
                   address_len_);
    } while (n < 0 && errno == EINTR);
    if (n < 0) report_failure(errno);
  }

  // systemd gone or the socket full: the service manager acts on the missing message
  // (start timeout, watchdog), so one log line is useful and a line per ping is noise.
  void report_failure(int error) {
    if (!failure_logged_.exchange(true, std::memory_order_relaxed)) {
      spdlog::warn("event=notify_failed error={} note=\"further failures are not logged\"",
                   std::system_category().message(error));
    }
  }

  int fd_ = -1;
  const sockaddr_un address_;
  const socklen_t address_len_;
  const std::optional<std::chrono::microseconds> watchdog_;
  std::atomic<bool> failure_logged_{false};
};

/// Outside a service manager: nothing to tell.
class silent_notifier final : public service_notifier {
 public:
  void ready() override {}
  void stopping() override {}
  void watchdog() override {}
  std::optional<std::chrono::microseconds> watchdog_interval() const override { return std::nullopt; }
  void status(std::string_view) override {}
};

}  // namespace

std::unique_ptr<service_notifier> make_service_notifier() {
  const char* socket_name = std::getenv("NOTIFY_SOCKET");
  if (socket_name == nullptr || *socket_name == '\0') return std::make_unique<silent_notifier>();

  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  const std::string_view name(socket_name);
  if ((name[0] != '/' && name[0] != '@') || name.size() > sizeof(address.sun_path) - 1) {
    spdlog::warn("event=notify_unsupported notify_socket=\"{}\" note=\"only path and abstract sockets are supported\"",
                 name.substr(0, 200));
    return std::make_unique<silent_notifier>();
  }
  std::memcpy(address.sun_path, name.data(), name.size());
  socklen_t length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  if (name[0] == '@') {
    address.sun_path[0] = '\0';  // abstract namespace: no terminating NUL counted
  } else {
    length += 1;  // a path address includes its NUL
  }
  return std::make_unique<systemd_notifier>(address, length, watchdog_from_env());
}

}  // namespace zp
