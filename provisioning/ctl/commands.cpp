#include "provisioning/ctl/cli.hpp"

#include "common/atomic_file.hpp"
#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "common/strings.hpp"
#include "common/terminal.hpp"
#include "provisioning/ctl/signing.hpp"
#include "provisioning/ctl/top.hpp"
#include "provisioning/provision_request.hpp"

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>

// zoneproxyctl's subcommands: each a row of k_subcommands with the flags it declares and
// the function that runs it. To add one: a row, its two functions, its options in
// options (cli.hpp).

namespace zp::ctl {
namespace {

using json = nlohmann::json;

// revoke and deprovision cannot be undone: on a terminal, ask; elsewhere (a script, a
// pipe), only with --yes, so a mistyped command in a loop does not wipe a proxy.
bool confirmed(bool yes, const std::string& what) {
  if (yes) return true;
  if (!is_terminal(stdin)) {
    fail(str_cat(what, " cannot be undone: add --yes (stdin is not a terminal, so no prompt)"), k_usage);
    return false;
  }
  std::fprintf(stderr, "%s cannot be undone. Type yes to go on: ", what.c_str());
  std::string answer;
  std::getline(std::cin, answer);
  if (answer == "yes") return true;
  fail("cancelled", k_usage);
  return false;
}

// key=value assignments as the settings object. Each value takes the JSON type of that
// setting (its default, from the proxy's own settings table): a list setting takes a
// comma-separated list (`proxy_protocol_sources=10.0.0.0/8,10.1.0.0/16`; empty: none).
// An unknown key goes as a number or a string, for the proxy to name it.
json parse_settings(const std::vector<std::string>& assignments, int& rc) {
  static const json defaults = provisioning::settings_to_json(proxy::session_settings{});
  json s = json::object();
  for (const auto& a : assignments) {
    const auto eq = a.find('=');
    if (eq == std::string::npos) {
      rc = fail(str_cat("setting \"", a, "\": expected key=value"), k_usage);
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
        const std::string_view item = trim_ascii(rest.substr(0, comma));
        if (!item.empty()) items.push_back(std::string(item));
        rest = comma == std::string_view::npos ? std::string_view() : rest.substr(comma + 1);
      }
      s[key] = std::move(items);
    } else if (known != defaults.end() && known->is_number() && !integer) {
      rc = fail(str_cat("setting ", key, ": expected a whole number, got \"", value, "\""), k_usage);
      return nullptr;
    } else {
      s[key] = integer ? json(n) : json(value);
    }
  }
  return s;
}

// Flags shared by several subcommands.
void add_name_options(CLI::App& sub, options& o) {
  sub.add_option("--cn", o.cn, "Common name of the proxy's certificates");
  sub.add_option("--dns", o.dns, "DNS name for the certificates; repeatable");
  sub.add_option("--ip", o.ips, "IP address for the certificates; repeatable");
}
// Signing here with the zone CA's key, or `instead` (the certificates or CSRs elsewhere).
void add_zone_ca_options(CLI::App& sub, options& o, CLI::Option* instead) {
  auto* ca_cert = sub.add_option("--zone-ca-cert", o.zone_cert, "Zone CA certificate (PEM)")->excludes(instead);
  auto* ca_key =
      sub.add_option("--zone-ca-key", o.zone_key, "Zone CA private key (PEM; if encrypted, asked for on a terminal)")
          ->excludes(instead);
  sub.add_option("--zone-ca-key-pass-file", o.zone_key_pass, "File whose first line is the zone CA key's passphrase")
      ->needs(ca_key);
  ca_cert->needs(ca_key);
  ca_key->needs(ca_cert);
  add_name_options(sub, o);
  sub.add_option("--days", o.days, "Certificate lifetime in days (default 397)");
}
// The proxy's certificates: signed here with the zone CA's key, or signed elsewhere
// (csr --out DIR, then DIR/rsa.crt and DIR/ecdsa.crt): provision and rotate-certs.
void add_signing_options(CLI::App& sub, options& o) {
  add_zone_ca_options(sub, o,
                      sub.add_option("--certificates-from", o.certificates_dir,
                                     "Directory with rsa.crt and ecdsa.crt (PEM chains, leaf first) signed elsewhere "
                                     "for the CSRs of `zoneproxyctl csr`"));
}
void add_yes(CLI::App& sub, options& o) {
  sub.add_flag("--yes", o.yes, "Do not ask (required when stdin is not a terminal)");
}
void no_options(CLI::App&, options&) {}

std::optional<json> certificates_for(const globals& g, api_client& client, const options& o, int& rc) {
  return o.certificates_dir.empty()
             ? signed_certificates(g, client, rc, o.cn, o.dns, o.ips, o.zone_cert, o.zone_key, o.zone_key_pass, o.days)
             : std::optional<json>(certificates_from(o.certificates_dir));
}

// A GET whose answer is shown as it is.
template <const char* Path>
int show_get(const globals& g, api_client& client, const options&) {
  int rc = k_ok;
  auto out = call(g, client, rc, "GET", Path);
  return show(g, out, rc);
}
constexpr char k_identity[] = "/v1/identity", k_status[] = "/v1/status", k_diagnostics[] = "/v1/diagnostics";

void declare_provision(CLI::App& sub, options& o) {
  sub.add_option("--module-server-ca", o.ms_ca, "Module Server CA certificate(s) (PEM)")->required();
  add_signing_options(sub, o);
  sub.add_option("--endpoint-ca", o.ep_ca, "Require endpoint client certificates from this CA (PEM)");
  sub.add_option("--observer-ca", o.observer_ca, "CA of read-only clients (monitoring) on 17488 (PEM)");
  sub.add_option("--endpoint-port", o.ep_port, "Endpoint port (default 17486)");
  sub.add_option("--module-server-port", o.ms_port, "Module Server port (default 17487)");
  sub.add_option("--set", o.settings, "A setting, key=value (e.g. pair_timeout_s=30); repeatable");
}
int run_provision(const globals& g, api_client& client, const options& o) {
  int rc = k_ok;
  auto certs = certificates_for(g, client, o, rc);
  if (!certs) return rc;
  json body = {{"module_server_ca", read_or_die(o.ms_ca, "--module-server-ca")},
               {"certificates", *certs},
               {"endpoint_port", o.ep_port},
               {"module_server_port", o.ms_port}};
  if (!o.ep_ca.empty()) body["endpoint_client_ca"] = read_or_die(o.ep_ca, "--endpoint-ca");
  if (!o.observer_ca.empty()) body["observer_ca"] = read_or_die(o.observer_ca, "--observer-ca");
  if (!o.settings.empty()) {
    body["settings"] = parse_settings(o.settings, rc);
    if (body["settings"].is_null()) return rc;
  }
  auto out = call(g, client, rc, "POST", "/v1/provision", body);
  return show(g, out, rc);
}

int run_sessions(const globals& g, api_client& client, const options&) {
  int rc = k_ok;
  auto out = call(g, client, rc, "GET", "/v1/sessions");
  if (out && !g.json_out) {
    print_sessions(*out);
    return rc;
  }
  return show(g, out, rc);
}

void declare_kill(CLI::App& sub, options& o) {
  sub.add_option("id", o.kill_id, "The session id, or the 8-character prefix `sessions` shows")->required();
}
int run_kill(const globals& g, api_client& client, const options& o) {
  int rc = k_ok;
  auto out = call(g, client, rc, "DELETE", "/v1/sessions/" + o.kill_id);
  if (out && !g.json_out) {
    std::cout << "session ended\n";
    return rc;
  }
  return show(g, out, rc);
}

int run_rotate_certs(const globals& g, api_client& client, const options& o) {
  int rc = k_ok;
  auto certs = certificates_for(g, client, o, rc);
  if (!certs) return rc;
  auto out = call(g, client, rc, "PUT", "/v1/certificates", *certs);
  return show(g, out, rc);
}

void declare_rotate_keys(CLI::App& sub, options& o) {
  auto* csr_out = sub.add_option("--csr-out", o.pending_csr_dir,
                                 "Only write the new keys' CSRs to DIR (rsa.csr, ecdsa.csr); install their "
                                 "certificates later with rotate-certs --certificates-from");
  add_zone_ca_options(sub, o, csr_out);
  sub.add_flag("--new", o.regenerate,
               "Discard keys an earlier rotate-keys left pending and make new ones (default: reuse them)");
}
int run_rotate_keys(const globals& g, api_client& client, const options& o) {
  if (o.pending_csr_dir.empty() && o.zone_key.empty()) {
    return fail("rotate-keys: give --zone-ca-cert and --zone-ca-key, or --csr-out DIR", k_usage);
  }
  int rc = k_ok;
  std::optional<zone_ca> ca;
  if (!o.zone_key.empty() && !(ca = open_zone_ca(o.zone_cert, o.zone_key, o.zone_key_pass, rc))) return rc;
  json body = names_body(o.cn, o.dns, o.ips);
  body["regenerate"] = o.regenerate;
  auto pending = call(g, client, rc, "POST", "/v1/keys/rotate", body);
  if (!pending) return rc;
  if (!ca) {
    if (!write_csrs(g, *pending, o.pending_csr_dir, rc)) return rc;
    if (g.json_out) {
      std::cout << pending->dump(2) << "\n";
    } else {
      std::cout << "the new keys wait for their certificates: zoneproxyctl rotate-certs --certificates-from DIR\n";
    }
    return rc;
  }
  auto certs = sign_csrs(*pending, *ca, o.days, rc);
  if (!certs) return rc;
  auto out = call(g, client, rc, "PUT", "/v1/certificates", *certs);
  if (out && !g.json_out) {
    // 17488 now serves the new key too: an operator who pins must pin it from here on.
    std::cout << "keys rotated; the proxy's pins (zoneproxyctl --pin) are now:\n"
              << "  ecdsa " << (*out)["pins"]["ecdsa"].get<std::string>() << "\n"
              << "  rsa   " << (*out)["pins"]["rsa"].get<std::string>() << "\n";
    return rc;
  }
  return show(g, out, rc);
}

void declare_csr(CLI::App& sub, options& o) {
  add_name_options(sub, o);
  sub.add_option("--out", o.csr_dir, "Directory to write rsa.csr and ecdsa.csr to")->required();
}
int run_csr(const globals& g, api_client& client, const options& o) {
  int rc = k_ok;
  auto out = call(g, client, rc, "POST", "/v1/csr", names_body(o.cn, o.dns, o.ips));
  if (!out || !write_csrs(g, *out, o.csr_dir, rc)) return rc;
  return g.json_out ? show(g, out, rc) : rc;
}

void declare_settings(CLI::App& sub, options& o) { sub.add_option("assignments", o.settings, "key=value pairs"); }
int run_settings(const globals& g, api_client& client, const options& o) {
  int rc = k_ok;
  if (o.settings.empty()) {
    auto d = call(g, client, rc, "GET", "/v1/diagnostics");
    return show(g, d ? std::optional<json>(json{{"settings", (*d)["config"]["settings"]}}) : std::nullopt, rc);
  }
  json s = parse_settings(o.settings, rc);
  if (s.is_null()) return rc;
  auto out = call(g, client, rc, "PUT", "/v1/settings", s);
  return show(g, out, rc);
}

void declare_trust(CLI::App& sub, options& o) {
  auto* set_cas = sub.add_subcommand("set-cas", "Replace the trusted CAs (PUT /v1/trust/cas), e.g. to rotate");
  o.set_cas = set_cas;
  set_cas->add_option("--module-server-ca", o.new_ms_ca,
                      "The Module Server CA certificate(s) to trust from now on (PEM; old and new "
                      "together while Module Servers move)");
  auto* obs_ca = set_cas->add_option("--observer-ca", o.new_observer_ca, "The observer CA(s) from now on (PEM)");
  auto* no_obs = set_cas->add_flag("--no-observer-ca", o.no_observer_ca, "Trust no observer CA any more");
  obs_ca->excludes(no_obs);
  set_cas->require_option(1, 3);
}
int run_trust(const globals& g, api_client& client, const options& o) {
  int rc = k_ok;
  if (!o.set_cas->parsed()) {
    auto out = call(g, client, rc, "GET", "/v1/trust");
    return show(g, out, rc);
  }
  json body = json::object();
  if (!o.new_ms_ca.empty()) body["module_server_ca"] = read_or_die(o.new_ms_ca, "--module-server-ca");
  if (!o.new_observer_ca.empty()) body["observer_ca"] = read_or_die(o.new_observer_ca, "--observer-ca");
  if (o.no_observer_ca) body["observer_ca"] = nullptr;
  auto out = call(g, client, rc, "PUT", "/v1/trust/cas", body);
  return show(g, out, rc);
}

void declare_revoke(CLI::App& sub, options& o) {
  auto* by_fingerprint = sub.add_option("fingerprint", o.fingerprint, "SHA-256 of the certificate (hex)");
  auto* by_file = sub.add_option("--cert", o.revoke_cert,
                                 "The certificate to revoke (PEM, its first one): the SHA-256 is computed here");
  by_fingerprint->excludes(by_file);
  add_yes(sub, o);
}
int run_revoke(const globals& g, api_client& client, const options& o) {
  if (o.fingerprint.empty() && o.revoke_cert.empty()) {
    return fail("revoke: give the certificate's SHA-256, or --cert FILE", k_usage);
  }
  std::string fingerprint = o.fingerprint;
  if (!o.revoke_cert.empty()) {
    auto certs = parse_certificates_pem(read_or_die(o.revoke_cert, "revoke --cert"));
    if (!certs.ok() || certs->empty()) {
      return fail(str_cat("revoke --cert ", o.revoke_cert, ": no PEM certificate in it"), k_usage);
    }
    fingerprint = cert_sha256_hex(certs->front().get());
    std::fprintf(stderr, "zoneproxyctl: %s: %s %s\n", o.revoke_cert.c_str(), fingerprint.c_str(),
                 subject_of(certs->front().get()).c_str());
  }
  if (!confirmed(o.yes, str_cat("revoking ", fingerprint))) return k_usage;
  int rc = k_ok;
  auto out = call(g, client, rc, "POST", "/v1/trust/revoke", json{{"fingerprint", fingerprint}});
  return show(g, out, rc);
}

int run_deprovision(const globals& g, api_client& client, const options& o) {
  if (!confirmed(o.yes, "deprovisioning the proxy")) return k_usage;
  int rc = k_ok;
  auto out = call(g, client, rc, "POST", "/v1/deprovision");
  return show(g, out, rc);
}

int run_metrics(const globals& g, api_client& client, const options&) {
  int rc = k_ok;
  auto out = call(g, client, rc, "GET", "/metrics");
  if (out && out->is_string()) {
    std::cout << out->get<std::string>();
    return rc;
  }
  return show(g, out, rc);
}

void declare_top(CLI::App& sub, options& o) {
  sub.add_option("--interval", o.top_interval, "Seconds between screens (default 2)")->check(CLI::Range(0.2, 3600.0));
  sub.add_option("--count", o.top_count, "Stop after this many screens (default: until Ctrl-C)");
}
int run_top_command(const globals&, api_client& client, const options& o) {
  return run_top(client, std::chrono::milliseconds(static_cast<long>(o.top_interval * 1000)), o.top_count);
}

constexpr subcommand k_subcommands[] = {
    {"identity", "State, version and identity fingerprints", no_options, show_get<k_identity>},
    {"provision", "CSR → sign with the zone CA → provision, in one step", declare_provision, run_provision},
    {"status", "Listeners, session counts, certificate expiry", no_options, show_get<k_status>},
    {"diagnostics", "Configuration, counters, recent errors, limits", no_options, show_get<k_diagnostics>},
    {"sessions", "Live and waiting sessions", no_options, run_sessions},
    {"kill", "End a session (both halves)", declare_kill, run_kill},
    {"rotate-certs", "New certificates for the proxy's keys, without a restart", add_signing_options, run_rotate_certs},
    {"rotate-keys", "New data-plane keys: their CSRs signed with the zone CA and installed (or --csr-out DIR)",
     declare_rotate_keys, run_rotate_keys},
    {"csr", "The proxy's CSRs (RSA and ECDSA), for a CA this tool never sees", declare_csr, run_csr},
    {"settings", "Show settings, or change some: settings key=value ...", declare_settings, run_settings},
    {"trust", "Trusted CAs, revoked certificates, trust history; trust set-cas", declare_trust, run_trust},
    {"revoke", "Refuse a client certificate for good (closes its sessions)", declare_revoke, run_revoke},
    {"deprovision", "Close everything, wipe the provisioning, new bootstrap token", add_yes, run_deprovision},
    {"metrics", "The Prometheus exposition", no_options, run_metrics},
    {"top", "A live view: sessions, rates, refusals, descriptors, expiry (until Ctrl-C)", declare_top, run_top_command},
};

}  // namespace

std::span<const subcommand> subcommands() { return k_subcommands; }

}  // namespace zp::ctl
