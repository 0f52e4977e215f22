#pragma once
// The daemon's local configuration: command-line flags over an optional TOML file over
// built-in defaults. This is the operator's side of the configuration; everything the
// Module Server sets arrives through provisioning instead.

#include "proxy/session_log.hpp"

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <spdlog/common.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace zp {

/// Settings read at start. Field names are the TOML keys and the flag names.
struct daemon_config {
  std::filesystem::path state_dir = "/var/lib/zoneproxy";
  std::string bind = "0.0.0.0";
  /// Per-port addresses; empty means `bind`. A DMZ host with two interfaces puts 17486 on
  /// the outer one and 17487/17488 on the inner one.
  std::string endpoint_bind;
  std::string module_server_bind;
  std::string provisioning_bind;
  /// 17488 in production; 0 picks a free port (tests), logged at start.
  std::uint16_t provisioning_port = 17488;
  unsigned workers = 0;  // 0 until resolved: one per core
  spdlog::level::level_enum log_level = spdlog::level::info;
  /// The session log: a line when a session pairs and one when it ends (README).
  proxy::session_log_mode session_log = proxy::session_log_mode::all;
  /// How long live sessions may run on after SIGTERM (PROTOCOL.md 3.5).
  std::chrono::seconds drain_timeout{30};
  /// How long one session-ticket key seals new tickets (PROTOCOL.md 2: at most an hour);
  /// a ticket resumes for at most two of these periods.
  std::chrono::seconds session_ticket_period{3600};
  /// Plain-HTTP GET /metrics on this address ("ADDR:PORT"), or off when empty; only on a
  /// loopback or private address unless metrics_listen_public.
  std::string metrics_listen;
  bool metrics_listen_public = false;
  /// Paired sessions leave OpenSSL for the record layer (ARCHITECTURE.md
  /// "The record layer"); false keeps every session with OpenSSL to its end (a way back
  /// without a new build, and the "before" of a same-build comparison). SIGHUP: new
  /// sessions.
  bool record_layer = true;
};

/// Reads a TOML file into `config`. Unknown keys and bad values fail with one line
/// naming the file, the key and the value.
absl::Status load_config_file(const std::filesystem::path& file, daemon_config& config);
/// The same for TOML text; `name_for_errors` stands where the file name would.
absl::Status parse_config_text(std::string_view text, std::string_view name_for_errors, daemon_config& config);

/// Validators shared by the TOML loader and the command line; errors name key and value.
absl::Status set_bind(daemon_config& config, std::string_view value);
/// The listeners a bind address is set for.
enum class listener_port { endpoint, module_server, provisioning };
/// "endpoint_bind", ...: the key of one listener's own address.
std::string_view bind_key(listener_port port);
absl::Status set_bind(daemon_config& config, listener_port port, std::string_view value);
/// The address a listener binds: its own, else `bind`.
const std::string& bind_address(const daemon_config& config, listener_port port);
absl::Status set_port(daemon_config& config, std::int64_t value);
absl::Status set_workers(daemon_config& config, std::int64_t value);
absl::Status set_log_level(daemon_config& config, std::string_view value);
absl::Status set_session_log(daemon_config& config, std::string_view value);
absl::Status set_drain_timeout(daemon_config& config, std::int64_t seconds);
absl::Status set_session_ticket_period(daemon_config& config, std::int64_t seconds);
absl::Status set_metrics_listen(daemon_config& config, std::string_view value);
/// The metrics listener's address, checked against metrics_listen_public; nullopt when off.
absl::StatusOr<std::optional<std::pair<std::string, std::uint16_t>>> metrics_endpoint(const daemon_config& config);

/// The keys whose values differ between two configurations, in file order.
std::vector<std::string_view> changed_keys(const daemon_config& before, const daemon_config& after);
/// Of those, the ones a running daemon applies without a restart (SIGHUP).
bool applies_live(std::string_view key);

/// Upper bound on --workers; far above any core count this runs on.
inline constexpr unsigned k_max_workers = 256;

}  // namespace zp
