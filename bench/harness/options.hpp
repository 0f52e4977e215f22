#pragma once
// The command line of zoneproxy-bench (issue 7). The flags and their defaults are a
// contract: bench/peers' compare script drives the harness through them.

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <variant>
#include <vector>

namespace zp::bench {

enum class target_kind { zoneproxy, forward };
enum class scenario_kind { throughput, latency, handshakes, pairing, idle, churn, slowloris, chaos };

/// Host and port of a flag like --endpoint 127.0.0.1:17486.
struct host_port {
  std::string host;
  std::uint16_t port = 0;
};

struct options {
  target_kind target = target_kind::zoneproxy;
  scenario_kind scenario = scenario_kind::throughput;
  host_port endpoint{"127.0.0.1", 17486};
  host_port module_server{"127.0.0.1", 17487};
  host_port control{"127.0.0.1", 17488};  // slowloris: the operator's port
  std::string client_cert, client_key, ca;
  host_port connect;
  host_port backend_listen{"127.0.0.1", 17500};
  std::string backend_cert, backend_key;
  std::string suite = "ECDHE-ECDSA-AES128-GCM-SHA256";
  unsigned connections = 0;  // resolved per scenario when not given
  bool both_directions = false;
  std::size_t message_size = 0;  // resolved per scenario when not given
  double duration_s = 10;
  unsigned count = 1000;
  double hold_s = 0;  // idle: seconds the sessions stay open after the RSS reading
  double rate = 50;
  double pace = 0;  // latency: round trips per second per session; 0 = back to back
  unsigned threads = 2;
  std::vector<pid_t> proxy_pids;
  std::string label;
  bool json = false;
  bool resume = false;  // clients offer the last session ticket they got

  std::chrono::nanoseconds duration() const {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::duration<double>(duration_s));
  }
};

/// The largest --count for idle: two sockets per session on each side, under the 20,000
/// descriptors a process may open here (`ulimit -Hn`).
inline constexpr unsigned k_max_idle_sessions = 8000;
/// The largest --count for slowloris: one socket each, plus the measuring sessions.
inline constexpr unsigned k_max_slow_connections = 9000;

/// What parsing decided: run with these options, or exit now with a status (0 after
/// --help, 2 on bad usage) after printing `message`.
struct parse_exit {
  int status = 2;
  std::string message;
};
std::variant<options, parse_exit> parse_options(int argc, char** argv);

const char* name_of(target_kind t);
const char* name_of(scenario_kind s);

}  // namespace zp::bench
