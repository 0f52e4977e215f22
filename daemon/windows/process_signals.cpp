// Windows: console control events stand in for signals. The handler runs on a thread the
// system starts for it; it only posts to the control io_context. For a console closing,
// a logoff or a shutdown, the process ends when the handler returns, so the handler waits
// (up to the few seconds Windows allows) for the daemon to finish stopping.
#include "daemon/process_signals.hpp"

#include <asio/post.hpp>

#include <windows.h>

#include <chrono>
#include <condition_variable>
#include <mutex>

namespace zp {
namespace {

// The one registered instance; guarded, because the handler thread reads it while the
// control thread may be tearing it down.
std::mutex g_mu;
std::condition_variable g_gone;
process_signals::impl* g_current = nullptr;

}  // namespace

struct process_signals::impl {
  impl(asio::io_context& control, std::function<void(std::string_view)> stop)
      : control(control), on_stop(std::move(stop)) {}

  void deliver(const char* cause) {
    asio::post(control, [this, cause] {
      if (!cancelled) on_stop(cause);
    });
  }

  asio::io_context& control;
  std::function<void(std::string_view)> on_stop;
  bool cancelled = false;  // control thread only
};

namespace {

BOOL WINAPI on_console_event(DWORD event) {
  const char* cause = nullptr;
  switch (event) {
    case CTRL_C_EVENT:
      cause = "console=ctrl_c";
      break;
    case CTRL_BREAK_EVENT:
      cause = "console=ctrl_break";
      break;
    case CTRL_CLOSE_EVENT:
      cause = "console=close";
      break;
    case CTRL_LOGOFF_EVENT:
      cause = "console=logoff";
      break;
    case CTRL_SHUTDOWN_EVENT:
      cause = "console=shutdown";
      break;
    default:
      return FALSE;
  }
  std::unique_lock lock(g_mu);
  if (g_current == nullptr) return FALSE;  // not running: the default action (exit)
  g_current->deliver(cause);
  if (event == CTRL_CLOSE_EVENT || event == CTRL_LOGOFF_EVENT || event == CTRL_SHUTDOWN_EVENT) {
    g_gone.wait_for(lock, std::chrono::seconds(4), [] { return g_current == nullptr; });
  }
  return TRUE;
}

}  // namespace

// on_reload is never called: Windows has no reload signal (a reload is a restart). By
// value, as the header declares it for the POSIX side, which keeps it.
// NOLINTBEGIN(performance-unnecessary-value-param)
process_signals::process_signals(asio::io_context& control, std::function<void(std::string_view)> on_stop,
                                 std::function<void()> /*on_reload*/)
    // NOLINTEND(performance-unnecessary-value-param)
    : impl_(std::make_unique<impl>(control, std::move(on_stop))) {
  std::lock_guard lock(g_mu);
  g_current = impl_.get();
  ::SetConsoleCtrlHandler(on_console_event, TRUE);
}

process_signals::~process_signals() {
  {
    std::lock_guard lock(g_mu);
    g_current = nullptr;
  }
  g_gone.notify_all();
  // A post already queued refers to impl_: it runs only while control runs, and
  // run_daemon destroys this object after control.run() has returned.
}

void process_signals::cancel() { impl_->cancelled = true; }

std::uint64_t prepare_process() { return 0; }

}  // namespace zp
