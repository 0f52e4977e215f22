// churn: --connections long-lived sessions doing a checked round trip every 100 ms for
// the whole --duration, while new short sessions open at --rate per second; each short
// session lives a random 0..1 s doing the same round trips, then closes cleanly. Every
// open, round trip and close must succeed: the metric is that errors stay zero while
// sessions come and go around the long-lived ones.

#include "bench/harness/ping_pong.hpp"
#include "bench/harness/scenario.hpp"
#include "common/strings.hpp"

#include <asio/steady_timer.hpp>

#include <atomic>
#include <random>
#include <thread>

namespace zp::bench {
namespace {

constexpr std::chrono::milliseconds k_interval{100};  // between round trips of a session
constexpr std::chrono::milliseconds k_max_short_life{1000};

struct shared_state {
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> opened{0}, closed{0}, long_lived_ok{0}, verified{0};
};

// A session that does round trips every k_interval until `until` (or the stop, for
// long-lived ones), then closes.
class churner : public std::enable_shared_from_this<churner> {
 public:
  churner(const std::shared_ptr<session>& s, run_context& c, shared_state& st, tracker& live, bool long_lived,
          steady_clock::time_point until)
      : pp_(std::make_shared<ping_pong>(s, c.o.message_size, c.t)),
        c_(c),
        st_(st),
        live_(live),
        long_lived_(long_lived),
        until_(until),
        timer_(*s->io) {}

  void step() {
    const bool over = long_lived_ ? st_.stopping.load(std::memory_order_relaxed) : steady_clock::now() >= until_;
    if (over) return end();
    pp_->once([self = shared_from_this()](const std::string& failure, std::chrono::nanoseconds) {
      if (!failure.empty()) return self->fail(failure);
      self->timer_.expires_after(k_interval);
      self->timer_.async_wait([self](std::error_code) { self->step(); });
    });
  }

 private:
  void end() {
    st_.verified.fetch_add(pp_->bytes_verified());
    c_.t.close(pp_->sess(), [self = shared_from_this()](bool ok) {
      if (ok) {
        self->st_.closed.fetch_add(1);
        if (self->long_lived_) self->st_.long_lived_ok.fetch_add(1);
      }
      self->live_.done();
    });
  }
  void fail(const std::string& failure) {
    c_.errors.add(str_cat(long_lived_ ? "long-lived" : "short", " session: ", failure));
    st_.verified.fetch_add(pp_->bytes_verified());
    pp_->sess()->a->close();
    pp_->sess()->b->close();
    live_.done();
  }

  std::shared_ptr<ping_pong> pp_;
  run_context& c_;
  shared_state& st_;
  tracker& live_;
  bool long_lived_;
  steady_clock::time_point until_;
  asio::steady_timer timer_;
};

void start_one(run_context& c, shared_state& st, tracker& live, bool long_lived) {
  live.add();
  asio::io_context& io = c.pool.next();
  on(io, [&c, &st, &live, &io, long_lived] {
    c.t.open(io, [&c, &st, &live, long_lived](const std::shared_ptr<session>& s, const open_timing&) {
      if (!s) return live.done();
      st.opened.fetch_add(1);
      thread_local std::mt19937_64 rng{std::random_device{}()};
      const auto life = std::chrono::milliseconds(rng() % (k_max_short_life.count() + 1));
      std::make_shared<churner>(s, c, st, live, long_lived, steady_clock::now() + life)->step();
    });
  });
}

}  // namespace

scenario_result run_churn(run_context& c) {
  shared_state st;
  tracker live;
  for (unsigned i = 0; i < c.o.connections; ++i) start_one(c, st, live, /*long_lived=*/true);
  // New sessions at --rate, paced from the main thread against the clock (no drift).
  const auto t0 = steady_clock::now();
  const auto end = t0 + c.o.duration();
  std::uint64_t started = 0;
  for (auto now = t0; now < end; now = steady_clock::now()) {
    const auto due = static_cast<std::uint64_t>(seconds_between(t0, now) * c.o.rate);
    for (; started < due; ++started) start_one(c, st, live, /*long_lived=*/false);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  st.stopping.store(true);
  live.wait_ended(c.errors, "churn");
  scenario_result r;
  r.params["rate"] = c.o.rate;
  r.metrics["sessions_opened"] = st.opened.load();
  r.metrics["sessions_closed"] = st.closed.load();
  r.metrics["long_lived"] = st.long_lived_ok.load();
  r.metrics["bytes_verified"] = st.verified.load();
  r.summary.push_back(
      fmt::format("{} sessions opened, {} closed cleanly ({} short at {}/s; {} of {} long-lived "
                  "lasted the whole run)",
                  st.opened.load(), st.closed.load(), started, c.o.rate, st.long_lived_ok.load(), c.o.connections));
  r.summary.push_back(fmt::format("{} payload bytes verified in round trips of {} bytes every {} ms",
                                  st.verified.load(), c.o.message_size, k_interval.count()));
  return r;
}

}  // namespace zp::bench
