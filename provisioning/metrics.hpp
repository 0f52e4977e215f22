#pragma once
// GET /metrics (Prometheus text format 0.0.4). The data plane's statistics come from
// its tables (proxy/stats.hpp) and a value snapshot taken at scrape time, summed over
// workers into prometheus-cpp metric families (ARCHITECTURE.md "Observability"); the
// process figures from k_process_stats. What only the control plane knows (its state,
// certificate expiry, the build) is declared here, once.

#include "provisioning/api_server.hpp"
#include "proxy/stats.hpp"

#include <array>

#include <string>
#include <utility>
#include <vector>

namespace zp::provisioning {

struct metrics_input {
  const proxy::plane_stats* stats = nullptr;
  std::string state;                                               // unprovisioned | provisioned | draining
  std::vector<std::pair<std::string, double>> certificate_expiry;  // key type → unix time
  std::array<std::uint64_t, std::size_t(api_refusal::count)> api_refused{};
};

/// The whole exposition, serialised by prometheus-cpp's TextSerializer.
std::string render_metrics(const metrics_input& in);

}  // namespace zp::provisioning
