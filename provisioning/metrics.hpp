#pragma once
// GET /metrics (Prometheus text format 0.0.4). Counters live in per-worker plain
// integers and are summed here, at scrape time, into prometheus-cpp metric families
// (ARCHITECTURE.md "Observability"): the hot path never touches a shared atomic. Every
// metric name is declared in this one place.

#include "proxy/data_plane.hpp"

#include <string>
#include <utility>
#include <vector>

namespace zp::provisioning {

struct metrics_input {
  proxy::data_plane* plane = nullptr;
  std::string state;                                               // unprovisioned | provisioned | draining
  std::vector<std::pair<std::string, double>> certificate_expiry;  // key type → unix time
};

/// The whole exposition, serialised by prometheus-cpp's TextSerializer.
std::string render_metrics(const metrics_input& in);

}  // namespace zp::provisioning
