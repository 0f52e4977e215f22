// zoneproxyctl: the operator's and Module Server's side of the control API (17488).
// Exit status: 0 ok, 1 the proxy said no (an HTTP error), 2 bad usage (a flag, a file
// given, a missing --yes), 3 could not reach the proxy or verify it. Human-readable
// output by default (durations and sizes with units), the proxy's JSON with --json.
// Defaults for the connection flags come from ZONEPROXY_CTL_* variables or from
// ~/.config/zoneproxy/ctl.toml; flags win over both. The subcommands are the table in
// provisioning/ctl/commands.cpp.

#include "common/pem.hpp"
#include "common/socket_handle.hpp"
#include "common/strings.hpp"
#include "common/tls_policy.hpp"
#include "provisioning/ctl/cli.hpp"

#include <cstdlib>

namespace zp::ctl {
namespace {

client_options options_from(const globals& g) {
  client_options o;
  const auto colon = g.proxy.rfind(':');
  o.host = colon == std::string::npos ? g.proxy : g.proxy.substr(0, colon);
  o.port = colon == std::string::npos ? 17488 : static_cast<std::uint16_t>(std::atoi(g.proxy.c_str() + colon + 1));
  if (o.host.size() > 2 && o.host.front() == '[') o.host = o.host.substr(1, o.host.size() - 2);
  if (!g.cert.empty()) {
    auto id = make_tls_identity(read_or_die(g.key.empty() ? g.cert : g.key, "--key"), read_or_die(g.cert, "--cert"));
    if (!id.ok()) std::exit(fail(str_cat("--cert/--key: ", id.status().message()), k_usage));
    o.client_cert = std::move(*id);
  }
  if (!g.ca.empty()) {
    auto cas = parse_certificates_pem(read_or_die(g.ca, "--ca"));
    if (!cas.ok()) std::exit(fail(str_cat("--ca: ", cas.status().message()), k_usage));
    o.trusted = std::move(*cas);
  }
  o.pins = g.pins;
  o.insecure = g.insecure;
  // The bootstrap token comes from a file or the environment, never the command line
  // (which any local user can read in /proc), and goes only to a proxy whose identity was
  // checked: by pin, by CA, or by an explicit --insecure.
  if (!g.token_file.empty()) {
    o.token = std::string(trim_ascii(read_or_die(g.token_file, "--token-file")));
  } else if (const char* env = std::getenv("ZONEPROXY_BOOTSTRAP_TOKEN"); env != nullptr) {
    o.token = std::string(trim_ascii(env));
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

// ~/.config/zoneproxy/ctl.toml ($XDG_CONFIG_HOME first), or "" without a home.
std::string default_config_file() {
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg != nullptr && *xdg == '/') {
    return str_cat(xdg, "/zoneproxy/ctl.toml");
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return str_cat(home, "/.config/zoneproxy/ctl.toml");
  }
  return {};
}

}  // namespace
}  // namespace zp::ctl

int main(int argc, char** argv) {
  using namespace zp::ctl;
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

  options o;
  for (const subcommand& s : subcommands()) s.declare(*app.add_subcommand(s.name, s.help), o);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int code = app.exit(e);
    return code == 0 ? 0 : k_usage;
  }
  const std::string name = app.get_subcommands().front()->get_name();
  // One client for the command: its requests after the first (provision's and
  // rotate-certs' second, top's every poll) resume the TLS session of the first.
  auto client = api_client::create(options_from(g));
  if (!client.ok()) return unreachable(g, client.status());
  for (const subcommand& s : subcommands()) {
    if (name == s.name) return s.run(g, *client, o);
  }
  return k_usage;
}
