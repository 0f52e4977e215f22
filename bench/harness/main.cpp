// zoneproxy-bench: end-to-end load against zoneproxy (--target zoneproxy) or a TLS
// forwarder (--target forward), issue 7. Usage and the JSON shape are a contract with
// bench/peers' compare script: see options.hpp and `zoneproxy-bench --help`.
//
// Exit status: 0 ok, 1 errors during the run, 2 bad usage. The run always ends: a
// watchdog aborts it (with an error) at the hard deadline.

#include "bench/harness/io_pool.hpp"
#include "bench/harness/options.hpp"
#include "bench/harness/scenario.hpp"
#include "bench/harness/session.hpp"
#include "bench/harness/stats.hpp"
#include "common/strings.hpp"

#include <nlohmann/json.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <condition_variable>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>
#include <variant>

namespace zp::bench {
namespace {

nlohmann::ordered_json report_json(const options& o, const scenario_result& r, const error_log& errors) {
  nlohmann::ordered_json params = {{"connections", o.connections}, {"message_size", o.message_size},
                                   {"duration_s", o.duration_s},   {"threads", o.threads},
                                   {"proxy_pids", o.proxy_pids},   {"resume", o.resume}};
  if (o.scenario == scenario_kind::throughput) params["direction"] = o.both_directions ? "both" : "one";
  for (const auto& [k, v] : r.params.items()) params[k] = v;
  return {{"scenario", name_of(o.scenario)},
          {"target", name_of(o.target)},
          {"label", o.label},
          {"suite", o.suite},
          {"params", params},
          {"errors", errors.count()},
          {"error_samples", errors.samples()},
          {"metrics", r.metrics}};
}

void print_report(const options& o, const scenario_result& r, const error_log& errors) {
  // With --json, stdout carries exactly the one JSON object; the summary goes to stderr.
  FILE* human = o.json ? stderr : stdout;
  std::fprintf(human, "zoneproxy-bench %s --target %s%s%s suite=%s connections=%u threads=%u\n", name_of(o.scenario),
               name_of(o.target), o.label.empty() ? "" : " label=", o.label.c_str(), o.suite.c_str(), o.connections,
               o.threads);
  for (const auto& line : r.summary) std::fprintf(human, "  %s\n", line.c_str());
  std::fprintf(human, "  errors: %llu\n", static_cast<unsigned long long>(errors.count()));
  for (const auto& e : errors.samples()) std::fprintf(human, "    %s\n", e.c_str());
  std::fflush(human);
  if (o.json) {
    std::cout << report_json(o, r, errors).dump() << std::endl;
  }
}

// Aborts the process with an error if the run is still going at the hard deadline.
class watchdog {
 public:
  watchdog(const options& o, error_log& errors, steady_clock::time_point deadline)
      : thread_([this, &o, &errors, deadline] {
          std::unique_lock lock(mu_);
          if (cv_.wait_until(lock, deadline, [this] { return disarmed_; })) return;
          errors.add("hard deadline passed: the run was aborted");
          print_report(o, scenario_result{}, errors);
          std::_Exit(1);
        }) {}
  ~watchdog() {
    {
      std::lock_guard lock(mu_);
      disarmed_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool disarmed_ = false;
  std::thread thread_;
};

steady_clock::time_point hard_deadline(const options& o) {
  const bool counted = o.scenario == scenario_kind::pairing || o.scenario == scenario_kind::idle;
  // slowloris: two phases and a ramp of up to 10 s.
  const auto run = counted                                  ? count_budget(o) + hold_budget(o)
                   : o.scenario == scenario_kind::slowloris ? 2 * o.duration() + std::chrono::seconds(10)
                   : o.scenario == scenario_kind::chaos     ? o.duration() + std::chrono::seconds(60)
                                                            : o.duration();
  return steady_clock::now() + run + std::chrono::seconds(30);
}

int run(const options& o) {
  error_log errors;
  watchdog dog(o, errors, hard_deadline(o));
  io_pool pool(o.threads);
  auto t = target::make(o, pool, errors);
  if (!t.ok()) {
    const std::string message = message_of(t.status());
    if (message.rfind("--", 0) == 0) {  // names a flag: bad usage
      std::fprintf(stderr, "zoneproxy-bench: error: %s\n", message.c_str());
      return 2;
    }
    errors.add(message);
    print_report(o, scenario_result{}, errors);
    return 1;
  }
  pool.start();
  run_context c{o, pool, **t, errors};
  scenario_result r;
  switch (o.scenario) {
    case scenario_kind::throughput:
      r = run_throughput(c);
      break;
    case scenario_kind::latency:
      r = run_latency(c);
      break;
    case scenario_kind::handshakes:
      r = run_handshakes(c);
      break;
    case scenario_kind::pairing:
      r = run_pairing(c);
      break;
    case scenario_kind::idle:
      r = run_idle(c);
      break;
    case scenario_kind::churn:
      r = run_churn(c);
      break;
    case scenario_kind::slowloris:
      r = run_slowloris(c);
      break;
    case scenario_kind::chaos:
      r = run_chaos(c);
      break;
  }
  (*t)->stop();
  pool.stop();  // before the target goes: no handler runs once its owner is gone
  t->reset();
  print_report(o, r, errors);
  return errors.count() == 0 ? 0 : 1;
}

}  // namespace
}  // namespace zp::bench

int main(int argc, char** argv) {
  // A peer that closes first must show up as a write error, not kill the harness.
  ::signal(SIGPIPE, SIG_IGN);
  // 8,000 idle sessions are 16,000 sockets here: use the whole hard limit.
  rlimit files{};
  if (::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }
  auto parsed = zp::bench::parse_options(argc, argv);
  if (auto* exit = std::get_if<zp::bench::parse_exit>(&parsed)) {
    std::fprintf(exit->status == 0 ? stdout : stderr, "%s\n", exit->message.c_str());
    return exit->status;
  }
  return zp::bench::run(std::get<zp::bench::options>(parsed));
}
