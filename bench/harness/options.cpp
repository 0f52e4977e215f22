#include "bench/harness/options.hpp"

#include "common/strings.hpp"

#include <CLI/CLI.hpp>

#include <signal.h>

#include <cerrno>
#include <charconv>
#include <cmath>
#include <filesystem>

namespace zp::bench {
namespace {

// Every value is taken as a string and checked here, so each refusal is one line in
// the same shape, naming the flag: `--connections: invalid value "x" (expected 1..10000)`.
struct bad_usage {
  std::string message;
};

[[noreturn]] void refuse(std::string_view flag, std::string_view value, std::string_view expected) {
  throw bad_usage{str_cat(flag, ": invalid value \"", value, "\" (expected ", expected, ")")};
}

std::uint64_t parse_uint(std::string_view flag, const std::string& value, std::uint64_t lo, std::uint64_t hi) {
  std::uint64_t v = 0;
  auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), v);
  if (ec != std::errc() || end != value.data() + value.size() || v < lo || v > hi) {
    refuse(flag, value, str_cat(lo, "..", hi));
  }
  return v;
}

double parse_positive(std::string_view flag, const std::string& value, double hi) {
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(value.c_str(), &end);
  if (value.empty() || errno != 0 || *end != '\0' || !std::isfinite(v) || v <= 0 || v > hi) {
    refuse(flag, value, str_cat("a number above 0, at most ", hi));
  }
  return v;
}

host_port parse_host_port(std::string_view flag, const std::string& value) {
  const auto colon = value.rfind(':');
  if (colon == std::string::npos || colon == 0) refuse(flag, value, "HOST:PORT");
  host_port hp;
  hp.host = value.substr(0, colon);
  hp.port = static_cast<std::uint16_t>(parse_uint(flag, value.substr(colon + 1), 1, 65535));
  return hp;
}

std::string existing_file(std::string_view flag, const std::string& value) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(value, ec)) refuse(flag, value, "a readable file");
  return value;
}

std::vector<pid_t> parse_pids(const std::string& value) {
  std::vector<pid_t> pids;
  std::size_t start = 0;
  while (start <= value.size()) {
    auto comma = value.find(',', start);
    if (comma == std::string::npos) comma = value.size();
    const std::string one = value.substr(start, comma - start);
    const auto pid = static_cast<pid_t>(parse_uint("--proxy-pid", one, 1, 1u << 22));
    if (::kill(pid, 0) != 0 && errno == ESRCH)
      refuse("--proxy-pid", value, str_cat("running processes; ", pid, " is not"));
    pids.push_back(pid);
    start = comma + 1;
  }
  return pids;
}

const std::vector<std::string>& suites() {
  static const std::vector<std::string> all = {"ECDHE-ECDSA-AES128-GCM-SHA256", "ECDHE-ECDSA-AES256-GCM-SHA384",
                                               "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"};
  return all;
}

options resolve(CLI::App& app, const std::map<std::string, std::string>& v) {
  options o;
  auto given = [&](const std::string& flag) { return app.get_option(flag)->count() > 0; };
  auto value = [&](const std::string& flag) { return v.at(flag); };

  if (!given("--target")) throw bad_usage{"--target: required (zoneproxy or forward)"};
  if (value("--target") == "zoneproxy") {
    o.target = target_kind::zoneproxy;
  } else if (value("--target") == "forward") {
    o.target = target_kind::forward;
  } else {
    refuse("--target", value("--target"), "zoneproxy or forward");
  }
  if (!given("--scenario")) {
    throw bad_usage{"--scenario: required (throughput|latency|handshakes|pairing|idle|churn|slowloris|chaos)"};
  }
  const std::string s = value("--scenario");
  const std::pair<const char*, scenario_kind> names[] = {{"throughput", scenario_kind::throughput},
                                                         {"latency", scenario_kind::latency},
                                                         {"handshakes", scenario_kind::handshakes},
                                                         {"pairing", scenario_kind::pairing},
                                                         {"idle", scenario_kind::idle},
                                                         {"churn", scenario_kind::churn},
                                                         {"slowloris", scenario_kind::slowloris},
                                                         {"chaos", scenario_kind::chaos}};
  bool known = false;
  for (const auto& [name, kind] : names) {
    if (s == name) {
      o.scenario = kind;
      known = true;
    }
  }
  if (!known) refuse("--scenario", s, "throughput|latency|handshakes|pairing|idle|churn|slowloris|chaos");

  if (given("--endpoint")) o.endpoint = parse_host_port("--endpoint", value("--endpoint"));
  if (given("--module-server")) o.module_server = parse_host_port("--module-server", value("--module-server"));
  if (given("--control")) o.control = parse_host_port("--control", value("--control"));
  if (given("--client-cert")) o.client_cert = existing_file("--client-cert", value("--client-cert"));
  if (given("--client-key")) o.client_key = existing_file("--client-key", value("--client-key"));
  if (given("--ca")) o.ca = existing_file("--ca", value("--ca"));
  if (given("--connect")) o.connect = parse_host_port("--connect", value("--connect"));
  if (given("--backend-listen")) o.backend_listen = parse_host_port("--backend-listen", value("--backend-listen"));
  if (given("--backend-cert")) o.backend_cert = existing_file("--backend-cert", value("--backend-cert"));
  if (given("--backend-key")) o.backend_key = existing_file("--backend-key", value("--backend-key"));
  if (given("--suite")) {
    o.suite = value("--suite");
    if (std::find(suites().begin(), suites().end(), o.suite) == suites().end()) {
      refuse("--suite", o.suite, "one of ECDHE-{ECDSA,RSA}-AES{128-GCM-SHA256,256-GCM-SHA384}");
    }
  }
  if (given("--connections")) {
    o.connections = static_cast<unsigned>(parse_uint("--connections", value("--connections"), 1, 10000));
  } else {
    o.connections = o.scenario == scenario_kind::throughput  ? 4
                    : o.scenario == scenario_kind::latency   ? 16
                    : o.scenario == scenario_kind::churn     ? 32
                    : o.scenario == scenario_kind::idle      ? 16  // sessions opened in parallel
                    : o.scenario == scenario_kind::slowloris ? 1   // pairing loops beside the attack
                                                             : 8;
  }
  if (given("--direction")) {
    const std::string d = value("--direction");
    if (d != "one" && d != "both") refuse("--direction", d, "one or both");
    o.both_directions = d == "both";
  }
  if (given("--message-size")) {
    o.message_size = parse_uint("--message-size", value("--message-size"), 1, 1 << 20);
  } else {
    o.message_size = o.scenario == scenario_kind::throughput ? 16384 : 64;
  }
  if (given("--duration")) o.duration_s = parse_positive("--duration", value("--duration"), 86400);
  if (given("--count")) {
    const std::uint64_t hi = o.scenario == scenario_kind::idle        ? k_max_idle_sessions
                             : o.scenario == scenario_kind::slowloris ? k_max_slow_connections
                                                                      : 10'000'000;
    o.count = static_cast<unsigned>(parse_uint("--count", value("--count"), 1, hi));
  }
  if (given("--hold")) {
    if (o.scenario != scenario_kind::idle) throw bad_usage{"--hold: only with --scenario idle"};
    o.hold_s = parse_positive("--hold", value("--hold"), 86400);
  }
  if (given("--pace")) {
    if (o.scenario != scenario_kind::latency) throw bad_usage{"--pace: only with --scenario latency"};
    o.pace = parse_positive("--pace", value("--pace"), 100000);
  }
  if (given("--rate")) o.rate = parse_positive("--rate", value("--rate"), 100000);
  if (given("--threads")) o.threads = static_cast<unsigned>(parse_uint("--threads", value("--threads"), 1, 256));
  if (given("--proxy-pid")) o.proxy_pids = parse_pids(value("--proxy-pid"));
  if (given("--label")) o.label = value("--label");
  o.json = app.get_option("--json")->count() > 0;
  o.resume = app.get_option("--resume")->count() > 0;

  if (o.target == target_kind::zoneproxy) {
    if (o.client_cert.empty()) throw bad_usage{"--client-cert: required with --target zoneproxy"};
    if (o.client_key.empty()) throw bad_usage{"--client-key: required with --target zoneproxy"};
  } else {
    if (o.scenario == scenario_kind::pairing || o.scenario == scenario_kind::slowloris ||
        o.scenario == scenario_kind::chaos) {
      throw bad_usage{"--scenario: pairing, slowloris and chaos need --target zoneproxy"};
    }
    if (!given("--connect")) throw bad_usage{"--connect: required with --target forward"};
    if (o.backend_cert.empty()) throw bad_usage{"--backend-cert: required with --target forward"};
    if (o.backend_key.empty()) throw bad_usage{"--backend-key: required with --target forward"};
  }
  return o;
}

}  // namespace

std::variant<options, parse_exit> parse_options(int argc, char** argv) {
  CLI::App app{"zoneproxy-bench: end-to-end load against zoneproxy or a TLS forwarder (issue 7)", "zoneproxy-bench"};
  std::map<std::string, std::string> values;
  const std::pair<const char*, const char*> flags[] = {
      {"--target", "zoneproxy|forward"},
      {"--scenario", "throughput|latency|handshakes|pairing|idle|churn|slowloris|chaos"},
      {"--endpoint", "zoneproxy endpoint port HOST:PORT (default 127.0.0.1:17486)"},
      {"--module-server", "zoneproxy Module Server port HOST:PORT (default 127.0.0.1:17487)"},
      {"--control", "slowloris: the control API HOST:PORT the operator probes (default 127.0.0.1:17488)"},
      {"--client-cert", "Module Server client certificate (zoneproxy target)"},
      {"--client-key", "Module Server client key (zoneproxy target)"},
      {"--ca", "CA file verifying the proxy's or forwarder's certificate (default: no verification)"},
      {"--connect", "forward target: the forwarder's listen address HOST:PORT"},
      {"--backend-listen", "forward target: the harness's TLS backend HOST:PORT (default 127.0.0.1:17500)"},
      {"--backend-cert", "forward target: backend certificate (matching --suite)"},
      {"--backend-key", "forward target: backend key"},
      {"--suite", "cipher suite, both legs (default ECDHE-ECDSA-AES128-GCM-SHA256)"},
      {"--connections", "streams/sessions in parallel (default per scenario: 4/16/8/8/16/32)"},
      {"--direction", "throughput: one|both (default one)"},
      {"--message-size", "latency/handshake message size (64); throughput chunk size (16384)"},
      {"--duration",
       "seconds for throughput/latency/handshakes/churn, and for each slowloris phase (default 10); pairing/idle: "
       "time budget of duration + 10 ms per counted session"},
      {"--count",
       "pairing: pairs; idle: sessions; slowloris: slow connections (default 1000; idle max 8000, slowloris max "
       "9000)"},
      {"--hold",
       "idle: seconds to keep the sessions open after the RSS reading, each doing a checked round trip every "
       "300 s (under the proxy's default idle timeout of 900 s) or half the hold if shorter; default 0"},
      {"--rate", "churn, chaos: new sessions per second (default 50)"},
      {"--pace",
       "latency: each session starts a round trip R times per second on a fixed schedule, and a round trip counts "
       "from when it was due, so a late proxy cannot hide its queue (default: back to back)"},
      {"--threads", "harness I/O threads (default 2)"},
      {"--proxy-pid", "PID[,PID...] of the process(es) under test, for CPU s/GB and RSS"},
      {"--label", "free text copied into the JSON"},
  };
  for (const auto& [flag, help] : flags) app.add_option(flag, values[flag], help);
  bool json = false;
  app.add_flag("--json", json, "print exactly one JSON object on stdout (the summary goes to stderr)");
  bool resume = false;
  app.add_flag("--resume", resume,
               "clients offer the last TLS session ticket they got (each client role keeps its own), and the "
               "forward target's backend issues tickets; default: every handshake is a full one");
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp&) {
    return parse_exit{0, app.help()};
  } catch (const CLI::ParseError& e) {
    return parse_exit{2, str_cat("zoneproxy-bench: error: ", e.what())};
  }
  try {
    return resolve(app, values);
  } catch (const bad_usage& e) {
    return parse_exit{2, str_cat("zoneproxy-bench: error: ", e.message)};
  }
}

const char* name_of(target_kind t) { return t == target_kind::zoneproxy ? "zoneproxy" : "forward"; }

const char* name_of(scenario_kind s) {
  switch (s) {
    case scenario_kind::throughput:
      return "throughput";
    case scenario_kind::latency:
      return "latency";
    case scenario_kind::handshakes:
      return "handshakes";
    case scenario_kind::pairing:
      return "pairing";
    case scenario_kind::idle:
      return "idle";
    case scenario_kind::churn:
      return "churn";
    case scenario_kind::slowloris:
      return "slowloris";
    case scenario_kind::chaos:
      return "chaos";
  }
  return "?";
}

}  // namespace zp::bench
