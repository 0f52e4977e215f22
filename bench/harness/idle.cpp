// idle: --count sessions opened (--connections at a time) and held open without
// traffic; the process under test's RSS (VmRSS) is read before the first and after the
// last is open and a settling pause, so rss_per_session_kib = (after - before) / N.
// With --hold, the sessions then stay open that long, each doing a checked round trip
// every k_heartbeat or half the hold (the soak's idle population: idle, yet under the
// proxy's idle timeout).
// Then every session does one checked round trip and closes cleanly.
//
// N is at most 8,000: the harness holds two sockets per session (both halves, or the
// client and the backend connection) under the 20,000 descriptors a process may open
// here (`ulimit -Hn`).

#include "bench/harness/ping_pong.hpp"
#include "bench/harness/proc_stats.hpp"
#include "bench/harness/scenario.hpp"
#include "common/strings.hpp"

#include <asio/steady_timer.hpp>

#include <atomic>
#include <thread>

namespace zp::bench {
namespace {

// Idle sessions settle (the proxy releases handshake and relay buffers) before the
// second RSS reading.
constexpr std::chrono::seconds k_settle{2};
// Under the proxy's default idle_timeout (900 s, PROTOCOL.md), so held sessions stay
// open; a hold shorter than two of these beats at half its length instead.
constexpr std::chrono::seconds k_heartbeat{300};

struct shared_state {
  std::atomic<bool> stopping{false};
  std::atomic<std::uint64_t> claimed{0};
  std::uint64_t limit = 0;
  std::mutex mu;
  std::vector<std::shared_ptr<session>> open;  // guarded by mu
};

void open_next(run_context& c, asio::io_context& io, shared_state& st, tracker& openers) {
  if (st.stopping.load(std::memory_order_relaxed) || st.claimed.fetch_add(1) >= st.limit) {
    openers.done();
    return;
  }
  c.t.open(io, [&c, &io, &st, &openers](std::shared_ptr<session> s, const open_timing&) {
    if (s) {
      std::lock_guard lock(st.mu);
      st.open.push_back(std::move(s));
    }
    open_next(c, io, st, openers);
  });
}

// One checked round trip on every session at once; `close_after`: each then ends cleanly.
// Returns the sessions whose round trip succeeded (a failed one is counted and closed).
// The handlers share their state, so one that ends after the wait below touches nothing
// of this frame.
std::vector<std::shared_ptr<session>> round_trip_all(run_context& c, const std::vector<std::shared_ptr<session>>& all,
                                                     bool close_after, const char* when,
                                                     std::atomic<std::uint64_t>& verified) {
  struct state {
    tracker pending;
    std::mutex mu;
    std::vector<std::shared_ptr<session>> passed;  // guarded by mu
    std::atomic<std::uint64_t> verified{0};
  };
  auto st = std::make_shared<state>();
  st->pending.add(all.size());
  for (const auto& s : all) {
    on(*s->io, [&c, st, s, close_after, when] {
      auto pp = std::make_shared<ping_pong>(s, c.o.message_size, c.t);
      pp->once([&c, st, pp, close_after, when](const std::string& failure, std::chrono::nanoseconds) {
        if (!failure.empty()) {
          c.errors.add(str_cat("idle session ", when, ": ", failure));
          pp->sess()->a->close();
          pp->sess()->b->close();
          st->pending.done();
          return;
        }
        st->verified.fetch_add(pp->bytes_verified());
        if (close_after) return c.t.close(pp->sess(), [st](bool) { st->pending.done(); });
        {
          std::lock_guard lock(st->mu);
          st->passed.push_back(pp->sess());
        }
        st->pending.done();
      });
    });
  }
  if (!st->pending.wait_idle(steady_clock::now() + k_drain_timeout + k_phase_timeout)) {
    c.errors.add(str_cat("idle: ", st->pending.in_flight(), " sessions did not finish their round trip ", when));
  }
  verified.fetch_add(st->verified.load());
  std::lock_guard lock(st->mu);
  return st->passed;
}

std::chrono::nanoseconds hold_of(const options& o) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(o.hold_s));
}

std::chrono::nanoseconds heartbeat_of(const options& o) {
  return std::min<std::chrono::nanoseconds>(k_heartbeat, hold_of(o) / 2);
}

}  // namespace

std::chrono::nanoseconds hold_budget(const options& o) {
  const auto beat = heartbeat_of(o);
  const auto rounds = 1 + (beat.count() > 0 ? hold_of(o) / beat : 0);
  return hold_of(o) + rounds * (k_drain_timeout + k_phase_timeout);
}

scenario_result run_idle(run_context& c) {
  shared_state st;
  st.limit = c.o.count;
  const auto rss_before = rss_kib(c.o.proxy_pids);
  const auto t0 = steady_clock::now();
  tracker openers;
  const unsigned parallel = std::min<unsigned>(c.o.connections, c.o.count);
  openers.add(parallel);
  for (unsigned i = 0; i < parallel; ++i) {
    asio::io_context& io = c.pool.next();
    on(io, [&c, &io, &st, &openers] { open_next(c, io, st, openers); });
  }
  if (!openers.wait_idle(t0 + count_budget(c.o))) {
    st.stopping.store(true);
    openers.wait_idle(steady_clock::now() + k_drain_timeout);
  }
  const double open_s = seconds_between(t0, steady_clock::now());
  std::vector<std::shared_ptr<session>> sessions;
  {
    std::lock_guard lock(st.mu);
    sessions = st.open;
  }
  if (sessions.size() < c.o.count) {
    c.errors.add(str_cat("idle: ", sessions.size(), " of ", c.o.count, " sessions opened"));
  }
  std::this_thread::sleep_for(k_settle);
  const auto rss_after = rss_kib(c.o.proxy_pids);

  // Held: idle, but a round trip every k_heartbeat keeps them under the idle timeout
  // and shows they still carry data.
  std::atomic<std::uint64_t> verified{0};
  const auto hold_end = steady_clock::now() + hold_of(c.o);
  const auto beat = heartbeat_of(c.o);
  unsigned heartbeats = 0;
  while (beat.count() > 0 && steady_clock::now() + beat < hold_end) {
    std::this_thread::sleep_for(beat);
    sessions = round_trip_all(c, sessions, false, "at a heartbeat", verified);
    ++heartbeats;
  }
  std::this_thread::sleep_until(hold_end);
  const auto held = sessions.size();
  // Every idle session still carries data both ways, then ends cleanly.
  round_trip_all(c, sessions, true, "after the pause", verified);
  sessions.clear();  // the sessions' sockets close on their own threads' handlers

  scenario_result r;
  r.params["count"] = c.o.count;
  r.params["hold_s"] = c.o.hold_s;
  const auto n = st.open.size();
  r.metrics["sessions"] = n;
  r.metrics["rss_before_kib"] = rss_before ? nlohmann::ordered_json(*rss_before) : nlohmann::ordered_json(nullptr);
  r.metrics["rss_after_kib"] = rss_after ? nlohmann::ordered_json(*rss_after) : nlohmann::ordered_json(nullptr);
  r.metrics["rss_per_session_kib"] = nullptr;
  r.metrics["heartbeats"] = heartbeats;
  r.metrics["sessions_held_to_the_end"] = held;
  r.metrics["bytes_verified"] = verified.load();
  if (rss_before && rss_after && n > 0) {
    r.metrics["rss_per_session_kib"] = static_cast<double>(*rss_after - *rss_before) / static_cast<double>(n);
  }
  r.summary.push_back(
      fmt::format("{} idle sessions opened in {:.2f} s ({} at a time), each then checked with a "
                  "round trip of {} bytes and closed",
                  n, open_s, parallel, c.o.message_size));
  if (c.o.hold_s > 0) {
    r.summary.push_back(
        fmt::format("held {:.0f} s with {} heartbeat round trips each; {} of {} sessions alive to the end", c.o.hold_s,
                    heartbeats, held, n));
  }
  if (!r.metrics["rss_per_session_kib"].is_null()) {
    r.summary.push_back(fmt::format("process under test RSS {} KiB -> {} KiB: {:.1f} KiB per session", *rss_before,
                                    *rss_after, r.metrics["rss_per_session_kib"].get<double>()));
  }
  return r;
}

}  // namespace zp::bench
