#pragma once
// The six scenarios of issue 7. Each one runs on the I/O threads through a target
// (session.hpp), bounded by --duration or --count plus phase deadlines, and answers with
// its parameters, its metrics (the JSON contract) and a human summary; errors go to the
// shared error log.

#include "bench/harness/io_pool.hpp"
#include "bench/harness/options.hpp"
#include "bench/harness/session.hpp"
#include "bench/harness/stats.hpp"

#include <nlohmann/json.hpp>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

namespace zp::bench {

struct run_context {
  const options& o;
  io_pool& pool;
  target& t;
  error_log& errors;
};

struct scenario_result {
  // Ordered: the JSON shows the fields in the contract's order.
  nlohmann::ordered_json params = nlohmann::ordered_json::object();  // scenario-specific, added to the common ones
  nlohmann::ordered_json metrics = nlohmann::ordered_json::object();
  std::vector<std::string> summary;  // human lines
};

scenario_result run_throughput(run_context& c);
scenario_result run_latency(run_context& c);
scenario_result run_handshakes(run_context& c);
scenario_result run_pairing(run_context& c);
scenario_result run_idle(run_context& c);
scenario_result run_churn(run_context& c);
scenario_result run_slowloris(run_context& c);
scenario_result run_chaos(run_context& c);

/// How long the end of a scenario may take after its stop (drains and closes).
inline constexpr std::chrono::seconds k_drain_timeout{15};

/// Work in flight on the I/O threads, waited for by the main thread with a deadline.
class tracker {
 public:
  void add(std::size_t n = 1);
  void done();
  /// Waits until nothing is in flight; false at the deadline.
  bool wait_idle(steady_clock::time_point deadline);
  /// Waits `within` for the work to end; if it does not, logs "<scenario>: N <what> did not
  /// end within S s of <since>" and returns false.
  bool wait_ended(error_log& errors, std::string_view scenario, std::string_view what = "sessions",
                  std::chrono::seconds within = k_drain_timeout, std::string_view since = "the stop");
  std::size_t in_flight() const;

 private:
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::size_t n_ = 0;
};

/// Opens --connections sessions, spread over the I/O threads, and returns once every open
/// has ended (or after the phase deadline). `opened` runs on the session's thread for each
/// one that opened; failures are already in the error log.
void open_sessions(run_context& c, const std::function<void(const std::shared_ptr<session>&)>& opened);

/// The time a count-bounded scenario (pairing, idle) may take: --duration plus 10 ms per
/// counted session (opening 8,000 idle sessions is ~16,000 handshakes on 2 shared cores).
std::chrono::nanoseconds count_budget(const options& o);
/// The time idle's --hold adds after the opening: the hold, and a bounded round of round
/// trips for every heartbeat and the last one.
std::chrono::nanoseconds hold_budget(const options& o);

/// Runs `f` on `io` (posted).
template <typename F>
void on(asio::io_context& io, F&& f) {
  asio::post(io, std::forward<F>(f));
}

/// Seconds between two time points.
inline double seconds_between(steady_clock::time_point a, steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

}  // namespace zp::bench
