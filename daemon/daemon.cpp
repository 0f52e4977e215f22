#include "daemon/daemon.hpp"

#include "common/fingerprint.hpp"
#include "common/lean_provider.hpp"
#include "common/log.hpp"
#include "common/strings.hpp"
#include "common/ticket_keys.hpp"
#include "daemon/process_signals.hpp"
#include "daemon/service_notifier.hpp"
#include "provisioning/api_server.hpp"
#include "provisioning/control_plane.hpp"
#include "provisioning/metrics_listener.hpp"
#include "provisioning/routes.hpp"
#include "provisioning/state_store.hpp"
#include "proxy/data_plane.hpp"
#include "proxy/worker.hpp"

#include <spdlog/spdlog.h>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <functional>
#include <mutex>
#include <utility>

namespace zp {
namespace {

// How another thread reaches the running daemon (request_daemon_stop). The mutex orders a
// request against run_daemon registering and unregistering, so a request never posts to
// an io_context that is gone, and one made before registration is not lost.
struct stop_requests_state {
  std::mutex mu;
  std::function<void()> deliver;  // set while run_daemon runs
  bool pending = false;           // asked before run_daemon was ready to hear it
};

stop_requests_state& stop_requests() {
  static stop_requests_state s;
  return s;
}

// Scoped: delivers stop requests to `deliver` from construction to destruction.
class stop_request_registration {
 public:
  explicit stop_request_registration(std::function<void()> deliver) {
    auto& s = stop_requests();
    std::lock_guard lock(s.mu);
    s.deliver = std::move(deliver);
    if (std::exchange(s.pending, false)) s.deliver();
  }
  ~stop_request_registration() {
    auto& s = stop_requests();
    std::lock_guard lock(s.mu);
    s.deliver = nullptr;
  }
  stop_request_registration(const stop_request_registration&) = delete;
  stop_request_registration& operator=(const stop_request_registration&) = delete;
};

}  // namespace

void request_daemon_stop() {
  auto& s = stop_requests();
  std::lock_guard lock(s.mu);
  if (s.deliver) {
    s.deliver();
  } else {
    s.pending = true;
  }
}

absl::Status run_daemon(const daemon_config& config, const config_loader& reload) {
  // Before anything parses a key or a certificate (common/lean_provider.hpp). Without
  // it the proxy works the same, only each handshake costs more.
  if (auto lean = use_lean_default_provider(); !lean.ok()) {
    spdlog::warn("event=crypto_provider outcome=default reason=\"{}\"", message_of(lean));
  }
  const std::uint64_t fd_limit = prepare_process();

  auto store = provisioning::state_store::open(config.state_dir);
  if (!store.ok()) return store.status();
  auto identity = store->load_or_create_identity();
  if (!identity.ok()) return identity.status();
  auto keys = store->load_or_create_data_plane_keys();
  if (!keys.ok()) return keys.status();
  const std::string rsa_fp = identity->rsa_spki_sha256, ecdsa_fp = identity->ecdsa_spki_sha256;

  proxy::worker_pool workers(config.workers);
  workers.start();
  // Stops the workers on every way out of this function, after everything that posts
  // to them is gone (objects below are destroyed first).
  struct workers_guard {
    proxy::worker_pool& w;
    ~workers_guard() {
      w.stop();
      w.join();
    }
  } guard{workers};

  proxy::data_plane plane(workers);
  plane.set_session_log(config.session_log);
  plane.set_record_layer(config.record_layer);
  auto tickets = ticket_key_ring::create(config.session_ticket_period);
  if (!tickets.ok()) return tickets.status();
  provisioning::control_plane control_plane(
      *store, std::move(*identity), std::move(*keys), plane,
      {{bind_address(config, listener_port::endpoint), bind_address(config, listener_port::module_server),
        bind_address(config, listener_port::provisioning), config.drain_timeout},
       config.provisioning_port,
       *tickets});
  if (auto st = control_plane.restore(); !st.ok()) return st;
  // What zoneproxyctl --pin accepts before and after provisioning: 17488 shows the
  // identity keys until then, and the provisioned certificates of the data-plane keys
  // after (README "Verifying the proxy").
  const auto data_plane_pins = control_plane.pins();
  const std::string pins = str_cat(ecdsa_fp, ",", rsa_fp, ",", data_plane_pins["ecdsa"].get<std::string>(), ",",
                                   data_plane_pins["rsa"].get<std::string>());
  spdlog::info("event=identity state_dir={} state={} rsa_spki_sha256={} ecdsa_spki_sha256={} pins={}",
               log::q(store->dir().string()), provisioning::state_name(control_plane.current()), rsa_fp, ecdsa_fp,
               pins);

  asio::io_context control(1);
  provisioning::routes routes(control_plane);
  provisioning::api_server api(
      control, [&] { return control_plane.api_ctx(); },
      [&] { return control_plane.current() != provisioning::control_plane::state::unprovisioned; },
      [&](const http_request& req, const provisioning::api_request_context& c) { return routes.handle(req, c); });
  control_plane.attach_api(&api);
  std::error_code ec;
  const std::string& api_bind = bind_address(config, listener_port::provisioning);
  auto api_address = asio::ip::make_address(api_bind, ec);
  if (ec) return absl::InvalidArgumentError(str_cat("provisioning_bind: invalid value \"", api_bind, "\""));
  auto bound = api.listen({api_address, config.provisioning_port});
  if (!bound.ok()) return bound.status();
  control_plane.set_provisioning_port(bound->port());
  provisioning::metrics_listener metrics(control, [&] { return control_plane.metrics(); });
  auto metrics_at = metrics_endpoint(config);
  if (!metrics_at.ok()) return metrics_at.status();
  if (*metrics_at) {
    auto served = metrics.listen({asio::ip::make_address((*metrics_at)->first), (*metrics_at)->second});
    if (!served.ok()) return served.status();
    spdlog::info("event=listening listener=metrics addr={}:{}", served->address().to_string(), served->port());
    control_plane.attach_metrics_listener(&metrics);  // both end with this function, the io_context stopped
  }
  spdlog::info("event=listening listener=provisioning addr={}:{} workers={} fd_limit={}", bound->address().to_string(),
               bound->port(), config.workers, fd_limit);
  if (plane.running()) {
    auto [ep, ms] = plane.ports();
    spdlog::info("event=listening listener=endpoint addr={}:{}", bind_address(config, listener_port::endpoint), ep);
    spdlog::info("event=listening listener=module_server addr={}:{}",
                 bind_address(config, listener_port::module_server), ms);
  }

  auto notifier = make_service_notifier();
  asio::steady_timer watchdog(control);
  // First SIGTERM/SIGINT (or stop request): drain (PROTOCOL.md 3.5) while 17488 keeps
  // answering with state "draining"; a second one stops at once. `cause` is a log field.
  bool draining = false;
  std::unique_ptr<process_signals> signals;
  auto begin_stop = [&](std::string_view cause) {
    if (draining) {
      spdlog::info("event=stopping_now {}", cause);
      plane.stop();
      return;
    }
    draining = true;
    spdlog::info("event=draining {} live_sessions={}", cause, plane.live_sessions());
    notifier->stopping();
    control_plane.begin_drain(control, [&] {
      watchdog.cancel();
      signals->cancel();
      api.stop();
      metrics.stop();
    });
  };
  // SIGHUP: read the local configuration again, apply what can change live, and say in
  // one line what changed and what waits for a restart. Sessions are not touched.
  daemon_config in_force = config;
  auto on_reload = [&] {
    if (!reload) {
      spdlog::info("event=config_reload_skipped reason=no_config_source");
      return;
    }
    auto next = reload();
    if (!next.ok()) {
      spdlog::warn("event=config_reload_failed error={} kept=previous", log::q(message_of(next.status())));
      return;
    }
    std::string applied, restart_needed;
    const auto add = [](std::string& list, std::string_view key) {
      if (!list.empty()) list += ',';
      list += key;
    };
    for (std::string_view key : changed_keys(in_force, *next)) add(applies_live(key) ? applied : restart_needed, key);
    log::init(next->log_level);
    in_force.log_level = next->log_level;
    plane.set_session_log(next->session_log);
    in_force.session_log = next->session_log;
    plane.set_record_layer(next->record_layer);
    in_force.record_layer = next->record_layer;
    spdlog::info("event=config_reloaded applied={} restart_needed={} live_sessions={}",
                 applied.empty() ? "none" : applied, restart_needed.empty() ? "none" : restart_needed,
                 plane.live_sessions());
  };
  signals = std::make_unique<process_signals>(control, begin_stop, on_reload);
  stop_request_registration stop_requests([&] { asio::post(control, [&] { begin_stop("request=service_control"); }); });

  // READY=1 only now: the service manager may send SIGTERM the moment it sees it, and
  // the handler above must already be in place (else the default action kills us).
  notifier->ready();
  // WATCHDOG=1 from the control thread: if it stalls, the service manager notices.
  std::function<void()> ping = [&] {
    notifier->watchdog();
    watchdog.expires_after(*notifier->watchdog_interval());
    watchdog.async_wait([&](std::error_code wait_ec) {
      if (!wait_ec) ping();
    });
  };
  if (notifier->watchdog_interval()) ping();

  control.run();
  plane.stop();
  spdlog::info("event=stopped");
  return absl::OkStatus();
}

}  // namespace zp
