#include "bench/harness/scenario.hpp"
#include "common/strings.hpp"

#include <memory>

namespace zp::bench {

void tracker::add(std::size_t n) {
  std::lock_guard lock(mu_);
  n_ += n;
}

void tracker::done() {
  std::lock_guard lock(mu_);
  if (--n_ == 0) cv_.notify_all();
}

bool tracker::wait_idle(steady_clock::time_point deadline) {
  std::unique_lock lock(mu_);
  return cv_.wait_until(lock, deadline, [this] { return n_ == 0; });
}

bool tracker::wait_ended(error_log& errors, std::string_view scenario, std::string_view what,
                         std::chrono::seconds within, std::string_view since) {
  if (wait_idle(steady_clock::now() + within)) return true;
  errors.add(str_cat(scenario, ": ", in_flight(), " ", what, " did not end within ", within.count(), " s of ", since));
  return false;
}

void open_sessions(run_context& c, const std::function<void(const std::shared_ptr<session>&)>& opened) {
  // Shared: an open that outlives the wait below still finds its tracker.
  auto opening = std::make_shared<tracker>();
  auto on_open = std::make_shared<std::function<void(const std::shared_ptr<session>&)>>(opened);
  opening->add(c.o.connections);
  for (unsigned i = 0; i < c.o.connections; ++i) {
    asio::io_context& io = c.pool.next();
    on(io, [&t = c.t, opening, on_open, io_ptr = &io] {
      t.open(*io_ptr, [opening, on_open](const std::shared_ptr<session>& s, const open_timing&) {
        if (s) (*on_open)(s);
        opening->done();
      });
    });
  }
  // Every open ends by its own phase deadline; the margin covers a busy machine.
  opening->wait_idle(steady_clock::now() + k_phase_timeout + std::chrono::seconds(5));
}

std::size_t tracker::in_flight() const {
  std::lock_guard lock(mu_);
  return n_;
}

}  // namespace zp::bench
