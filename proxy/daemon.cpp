#include "proxy/daemon.hpp"

#include "common/log.hpp"
#include "common/tls_policy.hpp"
#include "provisioning/api_server.hpp"
#include "provisioning/routes.hpp"
#include "provisioning/state_store.hpp"
#include "proxy/worker.hpp"

#include <spdlog/spdlog.h>
#include <asio/signal_set.hpp>
#include "common/strings.hpp"

#include <sys/resource.h>

#include <csignal>

namespace zp {

std::uint64_t raise_fd_limit() {
  rlimit lim{};
  if (::getrlimit(RLIMIT_NOFILE, &lim) != 0) return 0;
  if (lim.rlim_cur < lim.rlim_max) {
    rlimit raised = lim;
    raised.rlim_cur = lim.rlim_max;
    if (::setrlimit(RLIMIT_NOFILE, &raised) == 0) lim = raised;
  }
  return lim.rlim_cur;
}

absl::Status run_daemon(const daemon_config& config) {
  // A peer that resets while we write must not kill the process.
  std::signal(SIGPIPE, SIG_IGN);
  const std::uint64_t fd_limit = raise_fd_limit();

  auto store = provisioning::state_store::open(config.state_dir);
  if (!store.ok()) return store.status();
  auto identity = store->load_or_create_identity();
  if (!identity.ok()) return identity.status();
  auto token = store->load_or_create_bootstrap_token();
  if (!token.ok()) return token.status();
  spdlog::info("event=identity state_dir={} rsa_spki_sha256={} ecdsa_spki_sha256={}", log::q(store->dir().string()),
               identity->rsa_spki_sha256, identity->ecdsa_spki_sha256);
  spdlog::info("event=bootstrap_token_ready token_file={}", log::q(store->token_path().string()));

  server_tls_options tls_options;
  tls_options.identities = {&identity->rsa, &identity->ecdsa};
  auto ctx = make_server_ctx(tls_options);
  if (!ctx.ok()) return ctx.status();
  std::shared_ptr<SSL_CTX> provisioning_ctx(ctx->release(), SSL_CTX_free);

  proxy::worker_pool workers(config.workers);
  workers.start();

  asio::io_context control(1);
  provisioning::routes routes({"unprovisioned", identity->rsa_spki_sha256, identity->ecdsa_spki_sha256});
  provisioning::api_server api(
      control, [&] { return provisioning_ctx; },
      [&](const http_request& req, const provisioning::api_request_context& c) { return routes.handle(req, c); });

  std::error_code ec;
  auto bind_address = asio::ip::make_address(config.bind, ec);
  if (ec) return absl::InvalidArgumentError(str_cat("bind: invalid value \"", config.bind, "\""));
  auto bound = api.listen({bind_address, config.provisioning_port});
  if (!bound.ok()) {
    workers.stop();
    workers.join();
    return bound.status();
  }
  spdlog::info("event=listening listener=provisioning addr={}:{} workers={} fd_limit={}", bound->address().to_string(),
               bound->port(), config.workers, fd_limit);

  asio::signal_set signals(control, SIGINT, SIGTERM);
  signals.async_wait([&](std::error_code wait_ec, int signo) {
    if (wait_ec) return;
    spdlog::info("event=stopping signal={}", signo == SIGINT ? "SIGINT" : "SIGTERM");
    api.stop();
    workers.stop();
  });
  control.run();
  workers.join();
  spdlog::info("event=stopped");
  return absl::OkStatus();
}

}  // namespace zp
