// zoneproxy: the daemon's command line (a contract: tests and service units use it).

#include "common/atomic_file.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "daemon/daemon.hpp"
#include "daemon/daemon_config.hpp"

#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>
#include <string>
#include <thread>

#ifdef _WIN32
#include "common/platform/windows/win32_text.hpp"
#include "daemon/windows/event_log_sink.hpp"
#include "daemon/windows/service_host.hpp"
#include "daemon/windows/state_dir_acl.hpp"

#include <shellapi.h>
#include <spdlog/spdlog.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>
#endif

namespace {

int fail(std::string_view message, int status) {
  std::fprintf(stderr, "zoneproxy: error: %.*s\n", static_cast<int>(message.size()), message.data());
  return status;
}

// Exit status of a failed start: 2 for what a restart cannot fix (a bad value, a damaged
// or foreign state directory: the unit's RestartPreventExitStatus=2 stops a restart loop),
// 1 for what may pass (a port still taken), which systemd retries.
// 2: something on this host to fix (a bad config or state file, a full or read-only state
// directory), which a restart does not fix (RestartPreventExitStatus=2); 1: the rest.
int start_failure_status(const absl::Status& st) {
  return st.code() == absl::StatusCode::kFailedPrecondition || st.code() == absl::StatusCode::kInvalidArgument ||
                 zp::is_storage_failure(st)
             ? 2
             : 1;
}

void default_workers(zp::daemon_config& config) {
  if (config.workers == 0) config.workers = std::max(1u, std::thread::hardware_concurrency());
}

#ifdef _WIN32
// The daemon as the Service Control Manager runs it: nobody reads stderr, so every
// failure goes to the Event Log too, as one line naming the file or field.
int run_as_service(const zp::windows::service_options& options) {
  auto fail_event = [](std::string_view message, int status) {
    zp::windows::write_event(zp::windows::event_severity::error, zp::str_cat("zoneproxy: error: ", message));
    return fail(message, status);
  };
  zp::daemon_config config;
  std::error_code ec;
  // An absent file means the built-in defaults (the MSI installs none).
  if (std::filesystem::exists(std::u8string(options.config_file.begin(), options.config_file.end()), ec)) {
    if (auto st = zp::load_config_file(options.config_file, config); !st.ok()) {
      return fail_event(zp::message_of(st), 2);
    }
  }
  // The options are UTF-8; a path built from a narrow string would take the ANSI code page.
  config.state_dir = std::filesystem::path(std::u8string(options.state_dir.begin(), options.state_dir.end()));
  if (!zp::windows::file_acls_are_kept()) {
    zp::windows::write_event(zp::windows::event_severity::warning,
                             "event=state_dir_acl_not_checked reason=\"this system (Wine) keeps no file ACLs\"");
  } else if (auto problem = zp::windows::state_dir_acl_problem(options.state_dir); !problem.empty()) {
    return fail_event(problem, 2);
  }
  default_workers(config);
  zp::log::init(config.log_level);
  // Under the Service Control Manager nobody reads stderr: the Event Log gets the lines.
  if (zp::windows::hosted_by_scm()) {
    auto event_log = std::make_shared<zp::windows::event_log_sink>();
    event_log->set_level(spdlog::level::info);
    event_log->set_pattern("%v");
    zp::log::add_sink(std::move(event_log));
  }
  if (auto st = zp::run_daemon(config); !st.ok()) return fail_event(zp::message_of(st), start_failure_status(st));
  return 0;
}

// `zoneproxy service install|uninstall|run [--config FILE] [--state-dir DIR]`. The words
// come from the UTF-16 command line, so paths outside the ANSI code page survive.
int service_command() {
  int argc = 0;
  wchar_t** wide = ::CommandLineToArgvW(::GetCommandLineW(), &argc);
  if (wide == nullptr) return fail("cannot read the command line", 2);
  std::vector<std::string> words;
  for (int i = 2; i < argc; ++i) words.push_back(zp::windows::narrow(wide[i]));
  ::LocalFree(wide);
  const zp::windows::hosted_program program{run_as_service, [] { zp::request_daemon_stop(); }};
  return zp::windows::service_main(words, program);
}
#endif

// What the command line asked for: the flags given, each applied over the config file.
struct command_line {
  std::string config_file;
  std::optional<std::string> state_dir, bind, log_level, metrics_listen;
  std::optional<std::int64_t> port, workers, drain;
};

// The configuration in force: built-in defaults, then the file, then the flags. Called at
// start and again on SIGHUP, so a reload sees the same flags over the new file.
absl::StatusOr<zp::daemon_config> load_config(const command_line& cl) {
  zp::daemon_config config;
  if (!cl.config_file.empty()) {
    if (auto st = zp::load_config_file(cl.config_file, config); !st.ok()) return st;
  }
  absl::Status st;
  if (cl.state_dir) {
    if (cl.state_dir->empty())
      return absl::InvalidArgumentError("--state-dir: invalid value \"\" (expected a directory path)");
    config.state_dir = *cl.state_dir;
  }
  if (st.ok() && cl.bind) st = zp::set_bind(config, *cl.bind);
  if (st.ok() && cl.port) st = zp::set_port(config, *cl.port);
  if (st.ok() && cl.workers) st = zp::set_workers(config, *cl.workers);
  if (st.ok() && cl.log_level) st = zp::set_log_level(config, *cl.log_level);
  if (st.ok() && cl.drain) st = zp::set_drain_timeout(config, *cl.drain);
  if (st.ok() && cl.metrics_listen) st = zp::set_metrics_listen(config, *cl.metrics_listen);
  if (st.ok()) st = zp::metrics_endpoint(config).status();
  if (!st.ok()) return st;
  default_workers(config);
  return config;
}

}  // namespace

int main(int argc, char** argv) {
#ifdef _WIN32
  if (argc >= 2 && std::string_view(argv[1]) == "service") return service_command();
#endif
  CLI::App app{"zoneproxy: Direct Connect zone proxy (TLS rendezvous relay)", "zoneproxy"};
  app.set_version_flag("--version", std::string("zoneproxy ") + ZONEPROXY_VERSION);
  app.require_subcommand(1);
#ifdef _WIN32
  app.footer(zp::windows::service_usage());
#endif

  command_line cl;
  CLI::App* run = app.add_subcommand("run", "Run the proxy in the foreground (logs to stderr)");
  run->add_option("--state-dir", cl.state_dir, "State directory (default /var/lib/zoneproxy)");
  run->add_option("--config", cl.config_file, "TOML configuration file; flags override it");
  run->add_option("--bind", cl.bind, "Address to listen on (default 0.0.0.0; the config sets one per port)");
  run->add_option("--provisioning-port", cl.port, "Control API port (default 17488; 0 = any free port)");
  run->add_option("--workers", cl.workers, "Worker threads (default: one per core)");
  run->add_option("--log-level", cl.log_level, "trace|debug|info|warn|error (default info)");
  run->add_option("--drain-timeout", cl.drain, "Seconds live sessions may run on after SIGTERM (default 30)");
  run->add_option("--metrics-listen", cl.metrics_listen,
                  "Serve GET /metrics in plain HTTP on ADDR:PORT (loopback or private only, unless "
                  "metrics_listen_public = true in the config)");
  std::string checked_file;
  CLI::App* check = app.add_subcommand("check-config", "Check a configuration file and exit (0 valid, 2 not)");
  check->add_option("--config", checked_file, "TOML configuration file")->required();

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version exit 0 with their text; every usage error exits 2 with one
    // line, like any other start error (CLI11's own codes are 105, 109, ...).
    if (e.get_exit_code() == 0) return app.exit(e);
    return fail(zp::str_cat(e.what(), " (zoneproxy --help shows the usage)"), 2);
  }

  if (check->parsed()) {
    command_line only_file;
    only_file.config_file = checked_file;
    if (auto config = load_config(only_file); !config.ok()) return fail(zp::message_of(config.status()), 2);
    std::printf("zoneproxy: config %s: ok\n", checked_file.c_str());
    return 0;
  }

  auto config = load_config(cl);
  if (!config.ok()) return fail(zp::message_of(config.status()), 2);
  zp::log::init(config->log_level);
  if (auto run_status = zp::run_daemon(*config, [&cl] { return load_config(cl); }); !run_status.ok()) {
    return fail(zp::message_of(run_status), start_failure_status(run_status));
  }
  return 0;
}
