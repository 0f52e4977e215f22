#pragma once
// How the operating system asks the daemon to stop or to reload, per platform
// (daemon/<platform>/process_signals.cpp): SIGTERM and SIGINT stop and SIGHUP reloads on
// POSIX; on Windows, Ctrl-C, Ctrl-Break, closing the console, logoff and shutdown stop
// (there is no reload signal there: a reload is a restart). The Windows service's STOP
// and SHUTDOWN come through request_daemon_stop() instead (daemon.hpp).
//
// Owner: run_daemon; the callbacks run on the control io_context's thread.

#include <asio/io_context.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

namespace zp {

class process_signals {
 public:
  /// `on_stop(cause)` for every stop signal (the first drains, the next stops at once;
  /// `cause` is a log field such as "signal=SIGTERM"); `on_reload` for every reload.
  process_signals(asio::io_context& control, std::function<void(std::string_view cause)> on_stop,
                  std::function<void()> on_reload);
  ~process_signals();
  process_signals(const process_signals&) = delete;
  process_signals& operator=(const process_signals&) = delete;

  /// Stops listening; callbacks already queued do not run.
  void cancel();

  struct impl;  // the platform's state (public so its signal handlers may name it)

 private:
  std::unique_ptr<impl> impl_;
};

/// Process-wide set-up before anything starts: a peer that resets while we write must
/// not kill the process (SIGPIPE ignored), and the descriptor limit is raised to its hard
/// limit where there is one. Answers the descriptor limit now in force (0: none, Windows).
std::uint64_t prepare_process();

}  // namespace zp
