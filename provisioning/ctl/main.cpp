// zoneproxyctl: the operator's and Module Server's side of the control API (17488).
// Exit status: 0 ok, 1 the proxy said no (an HTTP error), 2 bad usage (a flag, a file
// given, a missing --yes), 3 could not reach the proxy or verify it. Human-readable
// output by default (durations and sizes with units), the proxy's JSON with --json.
// Defaults for the connection flags come from ZONEPROXY_CTL_* variables or from
// ~/.config/zoneproxy/ctl.toml; flags win over both.

#include "common/atomic_file.hpp"
#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "common/socket_handle.hpp"
#include "common/strings.hpp"
#include "common/terminal.hpp"
#include "common/tls_policy.hpp"
#include "provisioning/ctl/api_client.hpp"
#include "provisioning/ctl/csr_signer.hpp"
#include "provisioning/ctl/human.hpp"
#include "provisioning/ctl/top.hpp"
#include "provisioning/provision_request.hpp"

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

namespace {

using json = nlohmann::json;
using zp::ctl::human_bytes;
using zp::ctl::human_duration;
constexpr int k_ok = 0, k_refused = 1, k_usage = 2, k_unreachable = 3;

struct globals {
  std::string proxy = "127.0.0.1:17488";
  std::string cert, key, ca, token_file;
  std::vector<std::string> pins;
  bool insecure = false;
  bool json_out = false;
  int timeout_s = 15;
};

int fail(std::string_view what, int code) {
  std::fprintf(stderr, "zoneproxyctl: %.*s\n", static_cast<int>(what.size()), what.data());
  return code;
}

std::string read_or_die(const std::string& path, const char* what) {
  auto text = zp::read_file(path);
  if (!text.ok()) {
    std::exit(fail(zp::str_cat(what, ": ", text.status().message()), k_usage));
  }
  return *text;
}

zp::ctl::client_options options_from(const globals& g) {
  zp::ctl::client_options o;
  const auto colon = g.proxy.rfind(':');
  o.host = colon == std::string::npos ? g.proxy : g.proxy.substr(0, colon);
  o.port = colon == std::string::npos ? 17488 : static_cast<std::uint16_t>(std::atoi(g.proxy.c_str() + colon + 1));
  if (o.host.size() > 2 && o.host.front() == '[') o.host = o.host.substr(1, o.host.size() - 2);
  if (!g.cert.empty()) {
    auto id =
        zp::make_tls_identity(read_or_die(g.key.empty() ? g.cert : g.key, "--key"), read_or_die(g.cert, "--cert"));
    if (!id.ok()) std::exit(fail(zp::str_cat("--cert/--key: ", id.status().message()), k_usage));
    o.client_cert = std::move(*id);
  }
  if (!g.ca.empty()) {
    auto cas = zp::parse_certificates_pem(read_or_die(g.ca, "--ca"));
    if (!cas.ok()) std::exit(fail(zp::str_cat("--ca: ", cas.status().message()), k_usage));
    o.trusted = std::move(*cas);
  }
  o.pins = g.pins;
  o.insecure = g.insecure;
  // The bootstrap token comes from a file or the environment, never the command line
  // (which any local user can read in /proc), and goes only to a proxy whose identity was
  // checked: by pin, by CA, or by an explicit --insecure.
  if (!g.token_file.empty()) {
    o.token = std::string(zp::trim_ascii(read_or_die(g.token_file, "--token-file")));
  } else if (const char* env = std::getenv("ZONEPROXY_BOOTSTRAP_TOKEN"); env != nullptr) {
    o.token = std::string(zp::trim_ascii(env));
  }
  if (!o.token.empty() && o.pins.empty() && o.trusted.empty() && !g.insecure) {
    std::exit(
        fail("refusing to send the bootstrap token to an unverified proxy: give --pin <SPKI SHA-256 from the "
             "proxy's log> or --ca <CA file>, or --insecure",
             k_usage));
  }
  o.timeout = std::chrono::seconds(g.timeout_s);
  return o;
}

// Exit status 3: the proxy could not be reached, or not verified (handshake, pin).
int unreachable(const globals& g, const absl::Status& why) {
  return fail(zp::str_cat("cannot reach the proxy at ", g.proxy, ": ", why.message()), k_unreachable);
}

// Runs one call; prints errors; returns the JSON body on 2xx.
std::optional<json> call(const globals& g, zp::ctl::api_client& client, int& exit_code, const std::string& method,
                         const std::string& path, const json& body = nullptr) {
  auto r = client.call(method, path, body.is_null() ? std::string() : body.dump());
  if (!r.ok()) {
    exit_code = unreachable(g, r.status());
    return std::nullopt;
  }
  if (r->status >= 300) {
    auto j = json::parse(r->body, nullptr, false);
    std::string msg = !j.is_discarded() && j.contains("error")
                          ? zp::str_cat(j["error"].value("code", "?"), ": ", j["error"].value("message", ""))
                          : r->body;
    if (g.json_out) std::cout << r->body << "\n";
    exit_code = fail(zp::str_cat("the proxy refused (", r->status, ") ", msg), k_refused);
    return std::nullopt;
  }
  exit_code = k_ok;
  if (r->body.empty()) return json::object();
  auto j = json::parse(r->body, nullptr, false);
  return j.is_discarded() ? json(r->body) : j;
}

// A value as an operator reads it: "_s" keys are durations, byte counts get units.
std::string human_value(std::string_view key, const json& v) {
  if (v.is_number() && !v.is_boolean()) {
    const auto ends_with = [&](std::string_view tail) {
      return key.size() >= tail.size() && key.substr(key.size() - tail.size()) == tail;
    };
    if (ends_with("_s")) return human_duration(v.get<double>());
    if (key.find("bytes") != std::string_view::npos) return human_bytes(v.get<double>());
  }
  return v.is_string() ? v.get<std::string>() : v.dump();
}

// Prints a JSON object as "key: value" lines, nested objects indented.
void print_tree(const json& j, int indent = 0) {
  for (const auto& [k, v] : j.items()) {
    std::string pad(static_cast<std::size_t>(indent), ' ');
    if (v.is_object()) {
      std::cout << pad << k << ":\n";
      print_tree(v, indent + 2);
    } else if (v.is_array() && !v.empty() && v.front().is_object()) {
      std::cout << pad << k << ":\n";
      for (const auto& item : v) {
        std::cout << pad << "  -\n";
        print_tree(item, indent + 4);
      }
    } else {
      std::cout << pad << k << ": " << human_value(k, v) << "\n";
    }
  }
}

void print_sessions(const json& j) {
  std::printf("%-10s %-8s %-16s %-16s %11s %11s %8s\n", "ID", "STATE", "ENDPOINT", "MODULE SERVER", "E->M", "M->E",
              "AGE");
  for (const auto& s : j["sessions"]) {
    auto str = [](const json& v) { return v.is_string() ? v.get<std::string>() : std::string("-"); };
    std::printf("%-10s %-8s %-16s %-16s %11s %11s %8s\n", str(s["id_prefix"]).c_str(), str(s["state"]).c_str(),
                str(s["endpoint_address"]).c_str(), str(s["module_server_address"]).c_str(),
                human_bytes(s.value("bytes_endpoint_to_module_server", 0.0)).c_str(),
                human_bytes(s.value("bytes_module_server_to_endpoint", 0.0)).c_str(),
                human_duration(s.value("age_s", 0.0)).c_str());
  }
}

// The zone CA, opened before anything is asked of the proxy: a wrong passphrase changes
// nothing.
struct zone_ca {
  std::string cert_pem;
  zp::evp_pkey_ptr key;
};
std::optional<zone_ca> open_zone_ca(const std::string& ca_cert, const std::string& ca_key,
                                    const std::string& ca_key_pass_file, int& rc) {
  zone_ca ca{read_or_die(ca_cert, "--zone-ca-cert"), nullptr};
  std::optional<std::string> passphrase;
  if (!ca_key_pass_file.empty()) {
    // The first line of the file, as openssl's -passin file: reads it.
    const std::string text = read_or_die(ca_key_pass_file, "--zone-ca-key-pass-file");
    passphrase = text.substr(0, text.find_first_of("\r\n"));
  }
  auto key = zp::ctl::load_ca_key(read_or_die(ca_key, "--zone-ca-key"), passphrase, zp::is_terminal(stdin));
  if (!key.ok()) {
    rc = fail(zp::str_cat("--zone-ca-key ", ca_key, ": ", key.status().message()), k_usage);
    return std::nullopt;
  }
  ca.key = std::move(*key);
  return ca;
}

// The proxy's CSRs ({"rsa", "ecdsa"}) signed with the zone CA: the certificates object.
std::optional<json> sign_csrs(const json& csrs, const zone_ca& ca, int days, int& rc) {
  json certs = json::object();
  for (const char* type : {"rsa", "ecdsa"}) {
    auto chain = zp::ctl::sign_csr(csrs[type].get<std::string>(), ca.cert_pem, ca.key.get(), days);
    if (!chain.ok()) {
      rc = fail(zp::str_cat("signing the ", type, " CSR: ", chain.status().message()), k_usage);
      return std::nullopt;
    }
    certs[type] = *chain;
  }
  return certs;
}

json names_body(const std::string& cn, const std::vector<std::string>& dns, const std::vector<std::string>& ips) {
  return json{{"common_name", cn}, {"dns_names", dns}, {"ip_addresses", ips}};
}

// CSR from the proxy → signed here with the zone CA → the certificates object.
std::optional<json> signed_certificates(const globals& g, zp::ctl::api_client& client, int& rc, const std::string& cn,
                                        const std::vector<std::string>& dns, const std::vector<std::string>& ips,
                                        const std::string& ca_cert, const std::string& ca_key,
                                        const std::string& ca_key_pass_file, int days) {
  auto ca = open_zone_ca(ca_cert, ca_key, ca_key_pass_file, rc);
  if (!ca) return std::nullopt;
  auto csrs = call(g, client, rc, "POST", "/v1/csr", names_body(cn, dns, ips));
  if (!csrs) return std::nullopt;
  return sign_csrs(*csrs, *ca, days, rc);
}

// Writes DIR/rsa.csr and DIR/ecdsa.csr; false (rc set) if one cannot be written.
bool write_csrs(const globals& g, const json& csrs, const std::string& dir, int& rc) {
  for (const char* type : {"rsa", "ecdsa"}) {
    const auto file = std::filesystem::path(dir) / zp::str_cat(type, ".csr");
    if (auto st = zp::write_file_atomically(file, csrs[type].get<std::string>(), 0644); !st.ok()) {
      rc = fail(zp::str_cat("--out: ", st.message()), k_usage);
      return false;
    }
    if (!g.json_out) std::cout << "wrote " << file.string() << "\n";
  }
  return true;
}

// Certificates signed by a CA this tool never sees: DIR/rsa.crt and DIR/ecdsa.crt, each
// a PEM chain, leaf first, for the CSRs `zoneproxyctl csr --out DIR` wrote.
json certificates_from(const std::string& dir) {
  json certs = json::object();
  for (const char* type : {"rsa", "ecdsa"}) {
    const auto file = std::filesystem::path(dir) / zp::str_cat(type, ".crt");
    certs[type] = read_or_die(file.string(), "--certificates-from");
  }
  return certs;
}

// revoke and deprovision cannot be undone: on a terminal, ask; elsewhere (a script, a
// pipe), only with --yes, so a mistyped command in a loop does not wipe a proxy.
bool confirmed(bool yes, const std::string& what) {
  if (yes) return true;
  if (!zp::is_terminal(stdin)) {
    fail(zp::str_cat(what, " cannot be undone: add --yes (stdin is not a terminal, so no prompt)"), k_usage);
    return false;
  }
  std::fprintf(stderr, "%s cannot be undone. Type yes to go on: ", what.c_str());
  std::string answer;
  std::getline(std::cin, answer);
  if (answer == "yes") return true;
  fail("cancelled", k_usage);
  return false;
}

// ~/.config/zoneproxy/ctl.toml ($XDG_CONFIG_HOME first), or "" without a home.
std::string default_config_file() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg == '/') {
    return zp::str_cat(xdg, "/zoneproxy/ctl.toml");
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return zp::str_cat(home, "/.config/zoneproxy/ctl.toml");
  }
  return {};
}

// key=value assignments as the settings object. Each value takes the JSON type of that
// setting (its default, from the proxy's own settings table): a list setting takes a
// comma-separated list (`proxy_protocol_sources=10.0.0.0/8,10.1.0.0/16`; empty: none).
// An unknown key goes as a number or a string, for the proxy to name it.
json parse_settings(const std::vector<std::string>& assignments, int& rc) {
  static const json defaults = zp::provisioning::settings_to_json(zp::proxy::session_settings{});
  json s = json::object();
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos) {
      rc = fail(zp::str_cat("setting \"", a, "\": expected key=value"), k_usage);
      return nullptr;
    }
    const std::string key = a.substr(0, eq), value = a.substr(eq + 1);
    char* end = nullptr;
    const long long n = std::strtoll(value.c_str(), &end, 10);
    const bool integer = end != nullptr && *end == '\0' && !value.empty();
    const auto known = defaults.find(key);
    if (known != defaults.end() && known->is_array()) {
      json items = json::array();
      for (std::string_view rest = value; !rest.empty();) {
        const auto comma = rest.find(',');
        const std::string_view item = zp::trim_ascii(rest.substr(0, comma));
        if (!item.empty()) items.push_back(std::string(item));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      s[key] = std::move(items);
    } else if (known != defaults.end() && known->is_number() && !integer) {
      rc = fail(zp::str_cat("setting ", key, ": expected a whole number, got \"", value, "\""), k_usage);
      return nullptr;
    } else {
      s[key] = integer ? json(n) : json(value);
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  zp::ignore_broken_pipe_signals();  // a proxy that hangs up mid-request is an error, not a crash
  CLI::App app{"zoneproxyctl: talk to a zoneproxy's control API (port 17488)", "zoneproxyctl"};
  app.set_version_flag("--version", std::string("zoneproxyctl ") + ZONEPROXY_VERSION);
  app.require_subcommand(1);
  app.fallthrough();  // the global options are also accepted after the subcommand
  globals g;
  app.add_option("--proxy", g.proxy, "HOST:PORT of the control API (default 127.0.0.1:17488)")
      ->envname("ZONEPROXY_CTL_PROXY");
  app.add_option("--cert", g.cert, "Module Server client certificate (PEM) — required once provisioned")
      ->envname("ZONEPROXY_CTL_CERT");
  app.add_option("--key", g.key, "Its private key (PEM; default: in --cert)")->envname("ZONEPROXY_CTL_KEY");
  app.add_option("--ca", g.ca, "CA (PEM) the proxy's certificate must chain to (e.g. the zone CA)")
      ->envname("ZONEPROXY_CTL_CA");
  app.add_option("--pin", g.pins, "Accept the proxy only with this SPKI SHA-256 (hex); repeatable")
      ->envname("ZONEPROXY_CTL_PIN")
      ->delimiter(',');
  // Flags over ZONEPROXY_CTL_* over the file (keys: proxy, cert, key, ca, pin = [...]).
  app.allow_config_extras(CLI::config_extras_mode::error);  // a misspelt key is named, not ignored
  app.set_config("--ctl-config", default_config_file(),
                 "Defaults for the options above, TOML (default ~/.config/zoneproxy/ctl.toml, if it exists)");
  app.add_flag("--insecure", g.insecure,
               "Do not verify the proxy at all (a lab only; without it, --ca or --pin or the system's CAs must "
               "verify it)");
  app.add_option("--token-file", g.token_file,
                 "File holding the bootstrap token (or set ZONEPROXY_BOOTSTRAP_TOKEN); needs --pin or --ca");
  app.add_flag("--json", g.json_out, "Print the proxy's JSON instead of a table");
  app.add_option("--timeout", g.timeout_s, "Seconds to wait for the proxy (default 15)");

  app.add_subcommand("identity", "State, version and identity fingerprints");
  auto* prov = app.add_subcommand("provision", "CSR → sign with the zone CA → provision, in one step");
  std::string ms_ca, ep_ca, observer_ca, zone_cert, zone_key, zone_key_pass, cn = "zoneproxy";
  std::vector<std::string> dns, ips, settings;
  int days = 397, ep_port = 17486, ms_port = 17487;
  prov->add_option("--module-server-ca", ms_ca, "Module Server CA certificate(s) (PEM)")->required();
  // The proxy's certificates: signed here with the zone CA's key, or signed elsewhere
  // (csr --out DIR, then DIR/rsa.crt and DIR/ecdsa.crt): provision and rotate-certs.
  std::string certificates_dir;
  auto add_name_options = [&](CLI::App* sub) {
    sub->add_option("--cn", cn, "Common name of the proxy's certificates");
    sub->add_option("--dns", dns, "DNS name for the certificates; repeatable");
    sub->add_option("--ip", ips, "IP address for the certificates; repeatable");
  };
  // Signing here with the zone CA's key, or `instead` (the certificates or CSRs elsewhere).
  auto add_zone_ca_options = [&](CLI::App* sub, CLI::Option* instead) {
    auto* ca_cert = sub->add_option("--zone-ca-cert", zone_cert, "Zone CA certificate (PEM)")->excludes(instead);
    auto* ca_key =
        sub->add_option("--zone-ca-key", zone_key, "Zone CA private key (PEM; if encrypted, asked for on a terminal)")
            ->excludes(instead);
    sub->add_option("--zone-ca-key-pass-file", zone_key_pass, "File whose first line is the zone CA key's passphrase")
        ->needs(ca_key);
    ca_cert->needs(ca_key);
    ca_key->needs(ca_cert);
    add_name_options(sub);
    sub->add_option("--days", days, "Certificate lifetime in days (default 397)");
  };
  auto add_signing_options = [&](CLI::App* sub) {
    add_zone_ca_options(sub, sub->add_option("--certificates-from", certificates_dir,
                                             "Directory with rsa.crt and ecdsa.crt (PEM chains, leaf first) signed "
                                             "elsewhere for the CSRs of `zoneproxyctl csr`"));
  };
  add_signing_options(prov);
  prov->add_option("--endpoint-ca", ep_ca, "Require endpoint client certificates from this CA (PEM)");
  prov->add_option("--observer-ca", observer_ca, "CA of read-only clients (monitoring) on 17488 (PEM)");
  prov->add_option("--endpoint-port", ep_port, "Endpoint port (default 17486)");
  prov->add_option("--module-server-port", ms_port, "Module Server port (default 17487)");
  prov->add_option("--set", settings, "A setting, key=value (e.g. pair_timeout_s=30); repeatable");
  app.add_subcommand("status", "Listeners, session counts, certificate expiry");
  app.add_subcommand("diagnostics", "Configuration, counters, recent errors, limits");
  app.add_subcommand("sessions", "Live and waiting sessions");
  auto* kill = app.add_subcommand("kill", "End a session (both halves)");
  std::string kill_id;
  kill->add_option("id", kill_id, "The session id, or the 8-character prefix `sessions` shows")->required();
  auto* rotate = app.add_subcommand("rotate-certs", "New certificates for the proxy's keys, without a restart");
  add_signing_options(rotate);
  auto* rotate_keys = app.add_subcommand(
      "rotate-keys", "New data-plane keys: their CSRs signed with the zone CA and installed (or --csr-out DIR)");
  std::string pending_csr_dir;
  bool regenerate = false;
  auto* csr_out = rotate_keys->add_option("--csr-out", pending_csr_dir,
                                          "Only write the new keys' CSRs to DIR (rsa.csr, ecdsa.csr); install "
                                          "their certificates later with rotate-certs --certificates-from");
  add_zone_ca_options(rotate_keys, csr_out);
  rotate_keys->add_flag("--new", regenerate,
                        "Discard keys an earlier rotate-keys left pending and make new ones (default: reuse them)");
  auto* csr = app.add_subcommand("csr", "The proxy's CSRs (RSA and ECDSA), for a CA this tool never sees");
  add_name_options(csr);
  std::string csr_dir;
  csr->add_option("--out", csr_dir, "Directory to write rsa.csr and ecdsa.csr to")->required();
  auto* set = app.add_subcommand("settings", "Show settings, or change some: settings key=value ...");
  set->add_option("assignments", settings, "key=value pairs");
  auto* trust = app.add_subcommand("trust", "Trusted CAs, revoked certificates, trust history; trust set-cas");
  auto* set_cas = trust->add_subcommand("set-cas", "Replace the trusted CAs (PUT /v1/trust/cas), e.g. to rotate");
  std::string new_ms_ca, new_observer_ca;
  bool no_observer_ca = false;
  set_cas->add_option("--module-server-ca", new_ms_ca,
                      "The Module Server CA certificate(s) to trust from now on (PEM; old and new "
                      "together while Module Servers move)");
  auto* o_obs_ca = set_cas->add_option("--observer-ca", new_observer_ca, "The observer CA(s) from now on (PEM)");
  auto* o_no_obs = set_cas->add_flag("--no-observer-ca", no_observer_ca, "Trust no observer CA any more");
  o_obs_ca->excludes(o_no_obs);
  set_cas->require_option(1, 3);
  auto* revoke = app.add_subcommand("revoke", "Refuse a client certificate for good (closes its sessions)");
  std::string fingerprint, revoke_cert;
  auto* by_fingerprint = revoke->add_option("fingerprint", fingerprint, "SHA-256 of the certificate (hex)");
  auto* by_file = revoke->add_option("--cert", revoke_cert,
                                     "The certificate to revoke (PEM, its first one): the SHA-256 is computed here");
  by_fingerprint->excludes(by_file);
  bool yes = false;
  revoke->add_flag("--yes", yes, "Do not ask (required when stdin is not a terminal)");
  auto* deprovision = app.add_subcommand("deprovision", "Close everything, wipe the provisioning, new bootstrap token");
  deprovision->add_flag("--yes", yes, "Do not ask (required when stdin is not a terminal)");
  app.add_subcommand("metrics", "The Prometheus exposition");
  auto* top = app.add_subcommand("top", "A live view: sessions, rates, refusals, descriptors, expiry (until Ctrl-C)");
  double top_interval = 2;
  unsigned top_count = 0;
  top->add_option("--interval", top_interval, "Seconds between screens (default 2)")->check(CLI::Range(0.2, 3600.0));
  top->add_option("--count", top_count, "Stop after this many screens (default: until Ctrl-C)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : k_usage;
  }
  const std::string cmd = app.get_subcommands().front()->get_name();
  // One client for the command: its requests after the first (provision's and
  // rotate-certs' second, top's every poll) resume the TLS session of the first.
  auto made = zp::ctl::api_client::create(options_from(g));
  if (!made.ok()) return unreachable(g, made.status());
  zp::ctl::api_client& client = *made;
  if (cmd == "top") {
    return zp::ctl::run_top(client, std::chrono::milliseconds(static_cast<long>(top_interval * 1000)), top_count);
  }
  int rc = k_ok;
  std::optional<json> out;
  if (cmd == "identity") {
    out = call(g, client, rc, "GET", "/v1/identity");
  } else if (cmd == "provision") {
    auto certs = certificates_dir.empty()
                     ? signed_certificates(g, client, rc, cn, dns, ips, zone_cert, zone_key, zone_key_pass, days)
                     : std::optional<json>(certificates_from(certificates_dir));
    if (!certs) return rc;
    json body = {{"module_server_ca", read_or_die(ms_ca, "--module-server-ca")},
                 {"certificates", *certs},
                 {"endpoint_port", ep_port},
                 {"module_server_port", ms_port}};
    if (!ep_ca.empty()) body["endpoint_client_ca"] = read_or_die(ep_ca, "--endpoint-ca");
    if (!observer_ca.empty()) body["observer_ca"] = read_or_die(observer_ca, "--observer-ca");
    if (!settings.empty()) {
      body["settings"] = parse_settings(settings, rc);
      if (body["settings"].is_null()) return rc;
    }
    out = call(g, client, rc, "POST", "/v1/provision", body);
  } else if (cmd == "status") {
    out = call(g, client, rc, "GET", "/v1/status");
  } else if (cmd == "diagnostics") {
    out = call(g, client, rc, "GET", "/v1/diagnostics");
  } else if (cmd == "sessions") {
    out = call(g, client, rc, "GET", "/v1/sessions");
    if (out && !g.json_out) {
      print_sessions(*out);
      return rc;
    }
  } else if (cmd == "kill") {
    out = call(g, client, rc, "DELETE", "/v1/sessions/" + kill_id);
    if (out && !g.json_out) {
      std::cout << "session ended\n";
      return rc;
    }
  } else if (cmd == "csr") {
    out = call(g, client, rc, "POST", "/v1/csr", names_body(cn, dns, ips));
    if (!out || !write_csrs(g, *out, csr_dir, rc)) return rc;
    if (!g.json_out) return rc;
  } else if (cmd == "rotate-certs") {
    auto certs = certificates_dir.empty()
                     ? signed_certificates(g, client, rc, cn, dns, ips, zone_cert, zone_key, zone_key_pass, days)
                     : std::optional<json>(certificates_from(certificates_dir));
    if (!certs) return rc;
    out = call(g, client, rc, "PUT", "/v1/certificates", *certs);
  } else if (cmd == "rotate-keys") {
    if (pending_csr_dir.empty() && zone_key.empty()) {
      return fail("rotate-keys: give --zone-ca-cert and --zone-ca-key, or --csr-out DIR", k_usage);
    }
    std::optional<zone_ca> ca;
    if (!zone_key.empty() && !(ca = open_zone_ca(zone_cert, zone_key, zone_key_pass, rc))) return rc;
    json body = names_body(cn, dns, ips);
    body["regenerate"] = regenerate;
    auto pending = call(g, client, rc, "POST", "/v1/keys/rotate", body);
    if (!pending) return rc;
    if (!ca) {
      if (!write_csrs(g, *pending, pending_csr_dir, rc)) return rc;
      if (g.json_out) {
        std::cout << pending->dump(2) << "\n";
      } else {
        std::cout << "the new keys wait for their certificates: zoneproxyctl rotate-certs --certificates-from DIR\n";
      }
      return rc;
    }
    auto certs = sign_csrs(*pending, *ca, days, rc);
    if (!certs) return rc;
    out = call(g, client, rc, "PUT", "/v1/certificates", *certs);
    if (out && !g.json_out) {
      // 17488 now serves the new key too: an operator who pins must pin it from here on.
      std::cout << "keys rotated; the proxy's pins (zoneproxyctl --pin) are now:\n"
                << "  ecdsa " << (*out)["pins"]["ecdsa"].get<std::string>() << "\n"
                << "  rsa   " << (*out)["pins"]["rsa"].get<std::string>() << "\n";
      return rc;
    }
  } else if (cmd == "settings") {
    if (settings.empty()) {
      auto d = call(g, client, rc, "GET", "/v1/diagnostics");
      if (d) out = json{{"settings", (*d)["config"]["settings"]}};
    } else {
      json s = parse_settings(settings, rc);
      if (s.is_null()) return rc;
      out = call(g, client, rc, "PUT", "/v1/settings", s);
    }
  } else if (cmd == "trust" && set_cas->parsed()) {
    json body = json::object();
    if (!new_ms_ca.empty()) body["module_server_ca"] = read_or_die(new_ms_ca, "--module-server-ca");
    if (!new_observer_ca.empty()) body["observer_ca"] = read_or_die(new_observer_ca, "--observer-ca");
    if (no_observer_ca) body["observer_ca"] = nullptr;
    out = call(g, client, rc, "PUT", "/v1/trust/cas", body);
  } else if (cmd == "trust") {
    out = call(g, client, rc, "GET", "/v1/trust");
  } else if (cmd == "revoke") {
    if (fingerprint.empty() && revoke_cert.empty()) {
      return fail("revoke: give the certificate's SHA-256, or --cert FILE", k_usage);
    }
    if (!revoke_cert.empty()) {
      auto certs = zp::parse_certificates_pem(read_or_die(revoke_cert, "revoke --cert"));
      if (!certs.ok() || certs->empty()) {
        return fail(zp::str_cat("revoke --cert ", revoke_cert, ": no PEM certificate in it"), k_usage);
      }
      fingerprint = zp::cert_sha256_hex(certs->front().get());
      std::fprintf(stderr, "zoneproxyctl: %s: %s %s\n", revoke_cert.c_str(), fingerprint.c_str(),
                   zp::subject_of(certs->front().get()).c_str());
    }
    if (!confirmed(yes, zp::str_cat("revoking ", fingerprint))) return k_usage;
    out = call(g, client, rc, "POST", "/v1/trust/revoke", json{{"fingerprint", fingerprint}});
  } else if (cmd == "deprovision") {
    if (!confirmed(yes, "deprovisioning the proxy")) return k_usage;
    out = call(g, client, rc, "POST", "/v1/deprovision");
  } else if (cmd == "metrics") {
    out = call(g, client, rc, "GET", "/metrics");
    if (out && out->is_string()) {
      std::cout << out->get<std::string>();
      return rc;
    }
  }
  if (!out) return rc;
  if (g.json_out) {
    std::cout << out->dump(2) << "\n";
  } else {
    print_tree(*out);
  }
  return rc;
}
