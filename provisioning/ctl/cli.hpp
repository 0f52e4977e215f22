#pragma once
// zoneproxyctl's shared parts: the global connection flags, every subcommand's options,
// the table of subcommands (provisioning/ctl/commands.cpp), and how a call to the proxy
// is made and shown. Exit status: 0 ok, 1 the proxy said no (an HTTP error), 2 bad usage
// (a flag, a file given, a missing --yes), 3 could not reach the proxy or verify it.

#include "provisioning/ctl/api_client.hpp"

#include <absl/status/status.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace zp::ctl {

inline constexpr int k_ok = 0, k_refused = 1, k_usage = 2, k_unreachable = 3;

/// The flags every subcommand takes: where the proxy is and how it is verified.
struct globals {
  std::string proxy = "127.0.0.1:17488";
  std::string cert, key, ca, token_file;
  std::vector<std::string> pins;
  bool insecure = false;
  bool json_out = false;
  int timeout_s = 15;
};

/// Every subcommand's options (one subcommand runs per process; CLI11 fills them).
struct options {
  // The proxy's certificates: signed here with the zone CA (provision, rotate-certs,
  // rotate-keys), or elsewhere (certificates_dir).
  std::string zone_cert, zone_key, zone_key_pass, certificates_dir;
  std::string cn = "zoneproxy";
  std::vector<std::string> dns, ips;
  int days = 397;
  // provision
  std::string ms_ca, ep_ca, observer_ca;
  int ep_port = 17486, ms_port = 17487;
  std::vector<std::string> settings;  // provision --set, and settings key=value
  std::string kill_id;
  std::string csr_dir;          // csr --out
  std::string pending_csr_dir;  // rotate-keys --csr-out
  bool regenerate = false;      // rotate-keys --new
  // trust set-cas
  const CLI::App* set_cas = nullptr;
  std::string new_ms_ca, new_observer_ca;
  bool no_observer_ca = false;
  // revoke, deprovision
  std::string fingerprint, revoke_cert;
  bool yes = false;
  // top
  double top_interval = 2;
  unsigned top_count = 0;
};

/// One subcommand: its name and help, its flags, and what it does (the exit status).
struct subcommand {
  const char* name;
  const char* help;
  void (*declare)(CLI::App& sub, options& o);
  int (*run)(const globals& g, api_client& client, const options& o);
};
/// In the order --help lists them.
std::span<const subcommand> subcommands();

/// Prints "zoneproxyctl: <what>" to stderr; returns `code`.
int fail(std::string_view what, int code);
/// A whole file, or exit 2 naming `what` (the flag that named it).
std::string read_or_die(const std::string& path, const char* what);
/// Exit status 3: the proxy could not be reached, or not verified (handshake, pin).
int unreachable(const globals& g, const absl::Status& why);
/// Runs one call; prints errors (exit_code set either way); the JSON body on 2xx.
std::optional<nlohmann::json> call(const globals& g, api_client& client, int& exit_code, const std::string& method,
                                   const std::string& path, const nlohmann::json& body = nullptr);
/// The proxy's answer as JSON (--json) or as "key: value" lines; returns rc.
int show(const globals& g, const std::optional<nlohmann::json>& out, int rc);
void print_sessions(const nlohmann::json& j);

}  // namespace zp::ctl
