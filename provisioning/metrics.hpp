#pragma once
// GET /metrics (Prometheus text format 0.0.4). The data plane's statistics come from
// its tables (proxy/stats.hpp) and a value snapshot taken at scrape time, summed over
// workers into prometheus-cpp metric families (ARCHITECTURE.md "Observability"); the
// process figures from k_process_stats. What only the control plane knows (its state,
// certificate expiry, the build) is declared here, once.

#include "provisioning/api_server.hpp"
#include "proxy/data_plane_config.hpp"
#include "proxy/stats.hpp"

#include <array>

#include <string>
#include <utility>
#include <vector>

namespace zp::provisioning {

/// A certificate in force, for its expiry gauge.
struct certificate_expiry {
  std::string use;  // rsa | ecdsa (the proxy's chains), module_server_ca, endpoint_client_ca
  std::string subject;
  double not_after = 0;  // unix time
};

struct metrics_input {
  const proxy::plane_stats* stats = nullptr;
  std::string state;  // unprovisioned | provisioned | draining
  std::vector<certificate_expiry> certificates;
  const proxy::session_settings* settings = nullptr;  // in force; null while unprovisioned
  std::uint64_t fd_reserve = 0;
  std::uint64_t state_write_failures = 0;  // changes the state directory did not take
  bool key_rotation_pending = false;       // new data-plane keys wait for certificates
  std::array<std::uint64_t, std::size_t(api_refusal::count)> api_refused{};
};

/// The whole exposition, serialised by prometheus-cpp's TextSerializer.
std::string render_metrics(const metrics_input& in);

}  // namespace zp::provisioning
