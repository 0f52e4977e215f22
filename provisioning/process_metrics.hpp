#pragma once
// This process's resource figures in /v1/diagnostics and /metrics, each declared once.

#include "common/process_stats.hpp"

#include <cstdint>
#include <string_view>

namespace zp::provisioning {

/// One figure: where /v1/diagnostics puts it (`object`.`key`), and its metric in
/// /metrics, under the standard names of Prometheus' process collector.
struct process_stat_def {
  std::string_view object;
  std::string_view key;
  std::string_view name;
  std::string_view help;
  bool counter;
  double (*read)();
  // 0 means "none" (Windows has no descriptor limit): /metrics leaves the series out, so
  // an open/max ratio is absent rather than +Inf; /v1/diagnostics shows the 0.
  bool absent_when_zero = false;
};
inline constexpr process_stat_def k_process_stats[] = {
    {"fds", "open", "process_open_fds", "Number of open file descriptors.", false,
     [] { return static_cast<double>(open_fd_count()); }},
    {"fds", "limit", "process_max_fds", "Maximum number of open file descriptors.", false,
     [] { return static_cast<double>(fd_limit()); }, true},
    {"memory", "rss_bytes", "process_resident_memory_bytes", "Resident memory size in bytes.", false,
     [] { return static_cast<double>(resident_bytes()); }},
    {"process", "cpu_seconds", "process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", true,
     &cpu_seconds},
    {"process", "start_time_seconds", "process_start_time_seconds",
     "Start time of the process since unix epoch in seconds.", false, &start_time_seconds},
};

}  // namespace zp::provisioning
