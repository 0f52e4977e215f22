// zoneproxy: the daemon's command line (a contract: tests and service units use it).

#include "common/daemon_config.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "proxy/daemon.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <iostream>
#include <thread>

namespace {

int fail(std::string_view message, int status) {
  std::fprintf(stderr, "zoneproxy: error: %.*s\n", static_cast<int>(message.size()), message.data());
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"zoneproxy: Direct Connect zone proxy (TLS rendezvous relay)", "zoneproxy"};
  app.set_version_flag("--version", std::string("zoneproxy ") + ZONEPROXY_VERSION);
  app.require_subcommand(1);

  std::string state_dir, config_file, bind, log_level;
  std::int64_t port = 0, workers = 0, drain = 0;
  CLI::App* run = app.add_subcommand("run", "Run the proxy in the foreground (logs to stderr)");
  auto* o_state = run->add_option("--state-dir", state_dir, "State directory (default /var/lib/zoneproxy)");
  run->add_option("--config", config_file, "TOML configuration file; flags override it")->check(CLI::ExistingFile);
  auto* o_bind = run->add_option("--bind", bind, "Address to listen on (default 0.0.0.0)");
  auto* o_port = run->add_option("--provisioning-port", port, "Control API port (default 17488; 0 = any free port)");
  auto* o_workers = run->add_option("--workers", workers, "Worker threads (default: one per core)");
  auto* o_level = run->add_option("--log-level", log_level, "trace|debug|info|warn|error (default info)");
  auto* o_drain =
      run->add_option("--drain-timeout", drain, "Seconds live sessions may run on after SIGTERM (default 30)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  zp::daemon_config config;
  if (!config_file.empty()) {
    if (auto st = zp::load_config_file(config_file, config); !st.ok()) return fail(zp::message_of(st), 2);
  }
  // Command-line flags override the file.
  absl::Status st;
  if (o_state->count() > 0) {
    if (state_dir.empty()) return fail("--state-dir: invalid value \"\" (expected a directory path)", 2);
    config.state_dir = state_dir;
  }
  if (st.ok() && o_bind->count() > 0) st = zp::set_bind(config, bind);
  if (st.ok() && o_port->count() > 0) st = zp::set_port(config, port);
  if (st.ok() && o_workers->count() > 0) st = zp::set_workers(config, workers);
  if (st.ok() && o_level->count() > 0) st = zp::set_log_level(config, log_level);
  if (st.ok() && o_drain->count() > 0) st = zp::set_drain_timeout(config, drain);
  if (!st.ok()) return fail(zp::message_of(st), 2);
  if (config.workers == 0) config.workers = std::max(1u, std::thread::hardware_concurrency());

  zp::log::init(config.log_level);
  if (auto run_status = zp::run_daemon(config); !run_status.ok()) return fail(zp::message_of(run_status), 1);
  return 0;
}
