#pragma once
// This process's resource figures in /v1/diagnostics and /metrics, each declared once.

#include "common/process_stats.hpp"

#include <cstdint>
#include <string_view>

namespace zp::provisioning {

/// One figure: where /v1/diagnostics puts it (`object`.`key`), its gauge in /metrics.
struct process_stat_def {
  std::string_view object;
  std::string_view key;
  std::string_view name;
  std::string_view help;
  std::uint64_t (*read)();
};
inline constexpr process_stat_def k_process_stats[] = {
    {"fds", "open", "zoneproxy_open_fds", "Open file descriptors.", &open_fd_count},
    {"fds", "limit", "zoneproxy_max_fds", "The file descriptor limit in force.", &fd_limit},
    {"memory", "rss_bytes", "zoneproxy_resident_memory_bytes", "Resident set size.", &resident_bytes},
};

}  // namespace zp::provisioning
