#pragma once
// Tells the service manager how the daemon is doing: systemd's notify protocol on
// Linux (READY=1 once listeners are up, STOPPING=1 when draining starts, WATCHDOG=1
// pings), the Service Control Manager on Windows. A no-op when not run as a service.
//
// Owner: the daemon holds one for the life of the process. Thread-safe.

#include <chrono>
#include <memory>
#include <optional>
#include <string_view>

namespace zp {

class service_notifier {
 public:
  virtual ~service_notifier() = default;
  /// Start-up finished: listeners are bound and serving.
  virtual void ready() = 0;
  /// Draining started (SIGTERM / service stop).
  virtual void stopping() = 0;
  /// A liveness ping; call at least every watchdog_interval().
  virtual void watchdog() = 0;
  /// How often the manager wants pings (half its timeout), or nullopt if it does not.
  virtual std::optional<std::chrono::microseconds> watchdog_interval() const = 0;
  /// One-line human status (systemd STATUS=).
  virtual void status(std::string_view text) = 0;
};

/// The notifier for this platform and environment (NOTIFY_SOCKET / WATCHDOG_USEC on
/// Linux); a silent one when the process is not under a service manager.
std::unique_ptr<service_notifier> make_service_notifier();

}  // namespace zp
