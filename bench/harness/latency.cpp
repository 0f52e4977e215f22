// latency: C open sessions, each doing round trips of --message-size bytes (a -> b,
// checked, b -> a, checked; ping_pong.hpp) for --duration, back to back (a closed loop:
// the figure is the round trip under full load) or --pace R per second each (an open
// loop: the round trip at that load). Round trips that started before every session was
// open are warm-up and not recorded; paced, so are those that fell due before (held back
// into the run by a slow first one, they would add to the count the schedule caps).

#include "bench/harness/ping_pong.hpp"
#include "bench/harness/proc_stats.hpp"
#include "bench/harness/scenario.hpp"
#include "common/strings.hpp"

#include <unistd.h>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <mutex>
#include <thread>
#include <vector>

namespace zp::bench {
namespace {

struct shared_state {
  std::atomic<bool> recording{false};
  steady_clock::time_point recording_since;  // written before recording turns true
  std::atomic<bool> stopping{false};
  duration_samples rtts;
  std::atomic<std::uint64_t> late{0};  // paced round trips held back by the one before
  std::mutex mu;
  // Recorded round trips of each session: a proxy that serves some sessions first
  // shows a low p50 over all round trips while others wait, and only these show it.
  std::vector<std::vector<std::chrono::nanoseconds>> per_session;

  void session_ended(std::vector<std::chrono::nanoseconds>& local) {
    rtts.add_all(local);
    std::lock_guard lock(mu);
    per_session.push_back(std::move(local));
  }
};

// One session's round trips. Paced (--pace R), round trip k is due at first + k/R: one
// that can start on time counts from its start, one held back by the previous (a proxy
// falling behind) counts from when it was due, so a stall is charged to every round trip
// it delayed rather than hidden by the load generator slowing down with it.
struct echoer {
  echoer(std::shared_ptr<ping_pong> p, std::chrono::nanoseconds per, steady_clock::time_point first)
      : pp(std::move(p)), timer(*pp->sess()->io), period(per), due(first) {}
  std::shared_ptr<ping_pong> pp;
  std::vector<std::chrono::nanoseconds> samples;
  asio::steady_timer timer;
  std::chrono::nanoseconds period;  // 0: back to back
  steady_clock::time_point due;
};

void round_trip(const std::shared_ptr<echoer>& e, run_context& c, shared_state& st, tracker& live, bool late);

void loop(const std::shared_ptr<echoer>& e, run_context& c, shared_state& st, tracker& live) {
  if (st.stopping.load(std::memory_order_relaxed)) {
    st.session_ended(e->samples);
    c.t.close(e->pp->sess(), [&live](bool) { live.done(); });
    return;
  }
  if (e->period.count() == 0) return round_trip(e, c, st, live, false);
  if (steady_clock::now() >= e->due) return round_trip(e, c, st, live, true);
  e->timer.expires_at(e->due);
  e->timer.async_wait([e, &c, &st, &live](const std::error_code&) { round_trip(e, c, st, live, false); });
}

void round_trip(const std::shared_ptr<echoer>& e, run_context& c, shared_state& st, tracker& live, bool late) {
  const bool record =
      st.recording.load(std::memory_order_acquire) && (e->period.count() == 0 || e->due >= st.recording_since);
  e->pp->once([e, &c, &st, &live, record, late](const std::string& failure, std::chrono::nanoseconds rtt) {
    if (!failure.empty()) {
      c.errors.add(failure);
      st.session_ended(e->samples);
      live.done();
      return;
    }
    if (record) {
      e->samples.push_back(late ? steady_clock::now() - e->due : rtt);
      if (late) st.late.fetch_add(1, std::memory_order_relaxed);
    }
    e->due += e->period;
    loop(e, c, st, live);
  });
}

}  // namespace

scenario_result run_latency(run_context& c) {
  shared_state st;
  tracker live;
  const auto period =
      c.o.pace > 0 ? std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(1.0 / c.o.pace))
                   : std::chrono::nanoseconds{0};
  open_sessions(c, [&](const std::shared_ptr<session>& s) {
    live.add();
    // Paced sessions are spread over one period, not all due at once.
    const auto first = steady_clock::now() +
                       period * static_cast<long>(s->number % c.o.connections) / static_cast<long>(c.o.connections);
    loop(std::make_shared<echoer>(std::make_shared<ping_pong>(s, c.o.message_size, c.t), period, first), c, st, live);
  });
  const auto t0 = st.recording_since = steady_clock::now();
  st.recording.store(true, std::memory_order_release);
  const std::vector<pid_t> self{::getpid()};
  const auto cpu0 = cpu_seconds(c.o.proxy_pids);
  const auto own0 = cpu_seconds(self);
  const auto machine0 = machine_cpu_seconds();
  const auto switches0 = context_switches(c.o.proxy_pids);
  std::this_thread::sleep_for(c.o.duration());
  const auto cpu1 = cpu_seconds(c.o.proxy_pids);
  const auto own1 = cpu_seconds(self);
  const auto machine1 = machine_cpu_seconds();
  const auto switches1 = context_switches(c.o.proxy_pids);
  st.stopping.store(true);
  const auto t1 = steady_clock::now();
  live.wait_ended(c.errors, "latency");

  scenario_result r;
  r.params["pace_per_s"] = c.o.pace;  // 0: back to back
  const auto n = st.rtts.size();
  r.metrics["p50_us"] = st.rtts.quantile_us(0.50);
  r.metrics["p99_us"] = st.rtts.quantile_us(0.99);
  r.metrics["p999_us"] = st.rtts.quantile_us(0.999);
  r.metrics["mean_us"] = st.rtts.mean_us();
  // Each session weighing the same (stats.hpp): what a typical session saw.
  r.metrics["p50_us_session_weighted"] = session_weighted_quantile_us(st.per_session, 0.50);
  r.metrics["p99_us_session_weighted"] = session_weighted_quantile_us(st.per_session, 0.99);
  r.metrics["round_trips"] = n;
  r.metrics["round_trips_late"] = st.late.load();
  const auto [fewest, most] = std::minmax_element(st.per_session.begin(), st.per_session.end(),
                                                  [](const auto& a, const auto& b) { return a.size() < b.size(); });
  r.metrics["round_trips_fewest_session"] = st.per_session.empty() ? 0 : fewest->size();
  r.metrics["round_trips_most_session"] = st.per_session.empty() ? 0 : most->size();
  // What the proxy spends per echo (both of its passes): steadier than the percentiles on
  // a shared machine, since it does not depend on who else got the CPU meanwhile.
  r.metrics["proxy_cpu_us_per_round_trip"] = nullptr;
  if (cpu0 && cpu1 && n > 0) r.metrics["proxy_cpu_us_per_round_trip"] = (*cpu1 - *cpu0) * 1e6 / static_cast<double>(n);
  // And what the harness itself (both ends of every session) and the whole machine spend
  // per echo: back to back the loop is CPU-bound, so the proxy's share of the machine's
  // figure bounds what any change in the proxy can do to the round trip.
  r.metrics["harness_cpu_us_per_round_trip"] = nullptr;
  if (own0 && own1 && n > 0) {
    r.metrics["harness_cpu_us_per_round_trip"] = (*own1 - *own0) * 1e6 / static_cast<double>(n);
  }
  r.metrics["machine_cpu_us_per_round_trip"] = nullptr;
  if (machine0 && machine1 && n > 0) {
    r.metrics["machine_cpu_us_per_round_trip"] = (*machine1 - *machine0) * 1e6 / static_cast<double>(n);
  }
  // How often it went to sleep (and had to be woken for the next message) and was
  // preempted holding work, per echo: what shapes the percentiles when CPUs are scarce.
  r.metrics["proxy_sleeps_per_round_trip"] = nullptr;
  r.metrics["proxy_preemptions_per_round_trip"] = nullptr;
  // (A thread that ended meanwhile took its switches along: then there is no figure.)
  if (switches0 && switches1 && n > 0 && switches1->voluntary >= switches0->voluntary &&
      switches1->involuntary >= switches0->involuntary) {
    r.metrics["proxy_sleeps_per_round_trip"] =
        static_cast<double>(switches1->voluntary - switches0->voluntary) / static_cast<double>(n);
    r.metrics["proxy_preemptions_per_round_trip"] =
        static_cast<double>(switches1->involuntary - switches0->involuntary) / static_cast<double>(n);
  }
  r.summary.push_back(fmt::format("{} round trips of {} bytes in {:.2f} s ({:.0f}/s)", n, c.o.message_size,
                                  seconds_between(t0, t1), static_cast<double>(n) / seconds_between(t0, t1)));
  r.summary.push_back(fmt::format("round trip p50 {:.1f} us, p99 {:.1f} us, p99.9 {:.1f} us, mean {:.1f} us",
                                  r.metrics["p50_us"].get<double>(), r.metrics["p99_us"].get<double>(),
                                  r.metrics["p999_us"].get<double>(), r.metrics["mean_us"].get<double>()));
  r.summary.push_back(fmt::format(
      "round trips per session: fewest {}, most {}; each session weighing the same: "
      "p50 {:.1f} us, p99 {:.1f} us",
      r.metrics["round_trips_fewest_session"].get<std::size_t>(),
      r.metrics["round_trips_most_session"].get<std::size_t>(), r.metrics["p50_us_session_weighted"].get<double>(),
      r.metrics["p99_us_session_weighted"].get<double>()));
  if (c.o.pace > 0) {
    r.summary.push_back(
        fmt::format("paced at {:g} per second per session: {} round trips started late", c.o.pace, st.late.load()));
  }
  if (!r.metrics["proxy_cpu_us_per_round_trip"].is_null()) {
    r.summary.push_back(fmt::format("process under test: {:.1f} us CPU per round trip",
                                    r.metrics["proxy_cpu_us_per_round_trip"].get<double>()));
  }
  if (!r.metrics["harness_cpu_us_per_round_trip"].is_null() && !r.metrics["machine_cpu_us_per_round_trip"].is_null()) {
    r.summary.push_back(fmt::format("harness: {:.1f} us CPU per round trip; the whole machine: {:.1f} us",
                                    r.metrics["harness_cpu_us_per_round_trip"].get<double>(),
                                    r.metrics["machine_cpu_us_per_round_trip"].get<double>()));
  }
  return r;
}

}  // namespace zp::bench
