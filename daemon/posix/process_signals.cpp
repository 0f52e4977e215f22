#include "daemon/process_signals.hpp"

#include "common/socket_handle.hpp"

#include <asio/signal_set.hpp>

#include <sys/resource.h>

#include <csignal>

namespace zp {

struct process_signals::impl {
  impl(asio::io_context& control, std::function<void(std::string_view)> stop, std::function<void()> reload)
      : stops(control, SIGINT, SIGTERM),
        hangup(control, SIGHUP),
        on_stop(std::move(stop)),
        on_reload(std::move(reload)) {}

  void arm_stop() {
    stops.async_wait([this](std::error_code ec, int signo) {
      if (ec || cancelled) return;
      // Re-armed before the callback: a drain may finish (and cancel this) inside it.
      arm_stop();
      on_stop(signo == SIGINT ? "signal=SIGINT" : "signal=SIGTERM");
    });
  }
  void arm_hangup() {
    hangup.async_wait([this](std::error_code ec, int) {
      if (ec || cancelled) return;
      arm_hangup();
      on_reload();
    });
  }

  asio::signal_set stops;
  asio::signal_set hangup;
  std::function<void(std::string_view)> on_stop;
  std::function<void()> on_reload;
  bool cancelled = false;
};

process_signals::process_signals(asio::io_context& control, std::function<void(std::string_view)> on_stop,
                                 std::function<void()> on_reload)
    : impl_(std::make_unique<impl>(control, std::move(on_stop), std::move(on_reload))) {
  impl_->arm_stop();
  impl_->arm_hangup();
}

process_signals::~process_signals() = default;

void process_signals::cancel() {
  impl_->cancelled = true;
  std::error_code ignored;
  impl_->stops.cancel(ignored);
  impl_->hangup.cancel(ignored);
}

std::uint64_t prepare_process() {
  ignore_broken_pipe_signals();
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur;
}

}  // namespace zp
