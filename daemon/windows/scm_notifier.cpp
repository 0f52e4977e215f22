// Windows: the notifier speaks to the Service Control Manager through the service host
// (daemon/windows/service_host.hpp). ready() is SERVICE_RUNNING, stopping() is
// SERVICE_STOP_PENDING (the host keeps the checkpoint moving while the drain lasts), and
// status() goes to the Event Log. The SCM has no watchdog, so there are no pings. Outside
// `zoneproxy service run` every call is a no-op, as on Linux without NOTIFY_SOCKET.
#ifdef _WIN32

#include "daemon/service_notifier.hpp"
#include "daemon/windows/service_host.hpp"

namespace zp {
namespace {

/// Stateless: every call forwards to the host, which is thread-safe.
class scm_notifier final : public service_notifier {
 public:
  void ready() override { windows::report_running(); }
  void stopping() override { windows::report_stop_pending(); }
  void watchdog() override {}
  std::optional<std::chrono::microseconds> watchdog_interval() const override { return std::nullopt; }
  void status(std::string_view text) override {
    if (windows::hosted_by_scm()) windows::write_event(windows::event_severity::info, text);
  }
};

}  // namespace

std::unique_ptr<service_notifier> make_service_notifier() { return std::make_unique<scm_notifier>(); }

}  // namespace zp

#endif  // _WIN32
