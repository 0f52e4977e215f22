// latency: C open sessions, each doing back-to-back round trips of --message-size bytes
// (a -> b, checked, b -> a, checked; ping_pong.hpp) for --duration. Round trips that
// started before every session was open are warm-up and not recorded.

#include "bench/harness/ping_pong.hpp"
#include "bench/harness/proc_stats.hpp"
#include "bench/harness/scenario.hpp"
#include "common/strings.hpp"

#include <atomic>
#include <thread>

namespace zp::bench {
namespace {

struct shared_state {
  std::atomic<bool> recording{false};
  std::atomic<bool> stopping{false};
  duration_samples rtts;
};

void loop(const std::shared_ptr<ping_pong>& pp, run_context& c, shared_state& st, tracker& live,
          const std::shared_ptr<std::vector<std::chrono::nanoseconds>>& local) {
  if (st.stopping.load(std::memory_order_relaxed)) {
    st.rtts.add_all(*local);
    c.t.close(pp->sess(), [&live](bool) { live.done(); });
    return;
  }
  const bool record = st.recording.load(std::memory_order_relaxed);
  pp->once([pp, &c, &st, &live, local, record](const std::string& failure, std::chrono::nanoseconds rtt) {
    if (!failure.empty()) {
      c.errors.add(failure);
      st.rtts.add_all(*local);
      live.done();
      return;
    }
    if (record) local->push_back(rtt);
    loop(pp, c, st, live, local);
  });
}

}  // namespace

scenario_result run_latency(run_context& c) {
  shared_state st;
  tracker live;
  open_sessions(c, [&](const std::shared_ptr<session>& s) {
    live.add();
    loop(std::make_shared<ping_pong>(s, c.o.message_size, c.t), c, st, live,
         std::make_shared<std::vector<std::chrono::nanoseconds>>());
  });
  st.recording.store(true);
  const auto t0 = steady_clock::now();
  const auto cpu0 = cpu_seconds(c.o.proxy_pids);
  std::this_thread::sleep_for(c.o.duration());
  const auto cpu1 = cpu_seconds(c.o.proxy_pids);
  st.stopping.store(true);
  const auto t1 = steady_clock::now();
  live.wait_ended(c.errors, "latency");

  scenario_result r;
  const auto n = st.rtts.size();
  r.metrics["p50_us"] = st.rtts.quantile_us(0.50);
  r.metrics["p99_us"] = st.rtts.quantile_us(0.99);
  r.metrics["p999_us"] = st.rtts.quantile_us(0.999);
  r.metrics["round_trips"] = n;
  // What the proxy spends per echo (both of its passes): steadier than the percentiles on
  // a shared machine, since it does not depend on who else got the CPU meanwhile.
  r.metrics["proxy_cpu_us_per_round_trip"] = nullptr;
  if (cpu0 && cpu1 && n > 0) r.metrics["proxy_cpu_us_per_round_trip"] = (*cpu1 - *cpu0) * 1e6 / static_cast<double>(n);
  r.summary.push_back(fmt::format("{} round trips of {} bytes in {:.2f} s ({:.0f}/s)", n, c.o.message_size,
                                  seconds_between(t0, t1), static_cast<double>(n) / seconds_between(t0, t1)));
  r.summary.push_back(fmt::format("round trip p50 {:.1f} us, p99 {:.1f} us, p99.9 {:.1f} us",
                                  r.metrics["p50_us"].get<double>(), r.metrics["p99_us"].get<double>(),
                                  r.metrics["p999_us"].get<double>()));
  if (!r.metrics["proxy_cpu_us_per_round_trip"].is_null()) {
    r.summary.push_back(fmt::format("process under test: {:.1f} us CPU per round trip",
                                    r.metrics["proxy_cpu_us_per_round_trip"].get<double>()));
  }
  return r;
}

}  // namespace zp::bench
