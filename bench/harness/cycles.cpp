// handshakes and pairing: C loops, each iteration a whole session life: open (connect,
// handshake(s), hello(s), 101s), one checked round trip, clean close.
//
//   handshakes: for --duration; sessions/s counts iterations completed before the stop;
//               set-up time is from the start of the open to both halves ready.
//   pairing:    for --count iterations (zoneproxy only); pairing time is from the
//               second half's hello written to both 101s received.

#include "bench/harness/ping_pong.hpp"
#include "bench/harness/proc_stats.hpp"
#include "bench/harness/scenario.hpp"
#include "common/strings.hpp"

#include <asio/steady_timer.hpp>

#include <atomic>
#include <limits>
#include <thread>

namespace zp::bench {
namespace {

// After a failed iteration, wait this long before the next, so a dead target gives a
// bounded number of errors instead of a spin.
constexpr std::chrono::milliseconds k_retry_pause{10};

struct shared_state {
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> claimed{0};
  std::uint64_t limit = std::numeric_limits<std::uint64_t>::max();
  std::atomic<std::uint64_t> completed{0};  // before the stop
  duration_samples setup, pair;
};

void cycle(run_context& c, asio::io_context& io, shared_state& st, tracker& live);

void next_after_failure(run_context& c, asio::io_context& io, shared_state& st, tracker& live) {
  auto timer = std::make_shared<asio::steady_timer>(io, k_retry_pause);
  timer->async_wait([&c, &io, &st, &live, timer](std::error_code) { cycle(c, io, st, live); });
}

void cycle(run_context& c, asio::io_context& io, shared_state& st, tracker& live) {
  if (st.stopping.load(std::memory_order_relaxed) || st.claimed.fetch_add(1) >= st.limit) {
    live.done();
    return;
  }
  c.t.open(io, [&c, &io, &st, &live](const std::shared_ptr<session>& s, const open_timing& timing) {
    if (!s) return next_after_failure(c, io, st, live);
    auto pp = std::make_shared<ping_pong>(s, c.o.message_size, c.t);
    pp->once([&c, &io, &st, &live, pp, timing](const std::string& failure, std::chrono::nanoseconds) {
      if (!failure.empty()) {
        c.errors.add(failure);
        pp->sess()->a->close();
        pp->sess()->b->close();
        return next_after_failure(c, io, st, live);
      }
      c.t.close(pp->sess(), [&c, &io, &st, &live, timing](bool ok) {
        if (!ok) return next_after_failure(c, io, st, live);
        st.setup.add(timing.paired - timing.start);
        st.pair.add(timing.paired - timing.second_hello);
        if (!st.stopping.load(std::memory_order_relaxed)) st.completed.fetch_add(1, std::memory_order_relaxed);
        cycle(c, io, st, live);
      });
    });
  });
}

void start_loops(run_context& c, shared_state& st, tracker& live) {
  live.add(c.o.connections);
  for (unsigned i = 0; i < c.o.connections; ++i) {
    asio::io_context& io = c.pool.next();
    on(io, [&c, &io, &st, &live] { cycle(c, io, st, live); });
  }
}

// The share of a client role's handshakes that resumed, or null without --resume.
nlohmann::ordered_json resumed_share(const options& o, const ticket_slot& slot) {
  if (!o.resume || slot.handshakes() == 0) return nullptr;
  return static_cast<double>(slot.resumed()) / static_cast<double>(slot.handshakes());
}

}  // namespace

std::chrono::nanoseconds count_budget(const options& o) {
  return o.duration() + std::chrono::milliseconds(10) * o.count;
}

scenario_result run_handshakes(run_context& c) {
  shared_state st;
  tracker live;
  // The proxy's own CPU per session (issue 24's primary figure): sessions per second is
  // bounded by the harness on 2 shared cores, the proxy's CPU time is not.
  const auto cpu0 = cpu_seconds(c.o.proxy_pids);
  const auto t0 = steady_clock::now();
  start_loops(c, st, live);
  std::this_thread::sleep_for(c.o.duration());
  st.stopping.store(true);
  const auto t1 = steady_clock::now();
  const auto cpu1 = cpu_seconds(c.o.proxy_pids);
  live.wait_ended(c.errors, "handshakes", "loops");
  const auto n = st.completed.load();
  const double per_s = static_cast<double>(n) / seconds_between(t0, t1);
  scenario_result r;
  r.metrics["sessions_per_s"] = per_s;
  r.metrics["setup_p50_us"] = st.setup.quantile_us(0.50);
  r.metrics["setup_p99_us"] = st.setup.quantile_us(0.99);
  r.metrics["sessions"] = n;
  r.metrics["proxy_cpu_us_per_session"] = nullptr;
  if (cpu0 && cpu1 && n > 0) r.metrics["proxy_cpu_us_per_session"] = (*cpu1 - *cpu0) * 1e6 / static_cast<double>(n);
  r.metrics["resumed_a"] = resumed_share(c.o, c.t.a_tickets());
  r.metrics["resumed_b"] = resumed_share(c.o, c.t.b_tickets());
  r.summary.push_back(fmt::format("{:.1f} sessions/s ({} sessions in {:.2f} s, {} loops)", per_s, n,
                                  seconds_between(t0, t1), c.o.connections));
  r.summary.push_back(fmt::format("set-up p50 {:.1f} us, p99 {:.1f} us", r.metrics["setup_p50_us"].get<double>(),
                                  r.metrics["setup_p99_us"].get<double>()));
  if (!r.metrics["proxy_cpu_us_per_session"].is_null()) {
    r.summary.push_back(fmt::format("proxy CPU {:.0f} us per session ({:.2f} CPU s)",
                                    r.metrics["proxy_cpu_us_per_session"].get<double>(), *cpu1 - *cpu0));
  }
  if (c.o.resume) {
    r.summary.push_back(fmt::format("resumed: {} of {} {} handshakes, {} of {} {} handshakes",
                                    c.t.a_tickets().resumed(), c.t.a_tickets().handshakes(), c.t.a_name(),
                                    c.t.b_tickets().resumed(), c.t.b_tickets().handshakes(), c.t.b_name()));
  }
  return r;
}

scenario_result run_pairing(run_context& c) {
  shared_state st;
  st.limit = c.o.count;
  tracker live;
  const auto t0 = steady_clock::now();
  start_loops(c, st, live);
  if (!live.wait_idle(t0 + count_budget(c.o))) {
    st.stopping.store(true);
    c.errors.add(str_cat("pairing: ", st.pair.size(), " of ", c.o.count, " pairs within the time budget"));
    live.wait_idle(steady_clock::now() + k_drain_timeout);
  }
  const auto t1 = steady_clock::now();
  scenario_result r;
  r.params["count"] = c.o.count;
  r.metrics["pair_p50_us"] = st.pair.quantile_us(0.50);
  r.metrics["pair_p99_us"] = st.pair.quantile_us(0.99);
  r.metrics["pairs"] = st.pair.size();
  r.summary.push_back(
      fmt::format("{} pairs in {:.2f} s ({} loops)", st.pair.size(), seconds_between(t0, t1), c.o.connections));
  r.summary.push_back(fmt::format("second hello -> both 101s: p50 {:.1f} us, p99 {:.1f} us",
                                  r.metrics["pair_p50_us"].get<double>(), r.metrics["pair_p99_us"].get<double>()));
  return r;
}

}  // namespace zp::bench
