#pragma once
// What the harness reads about the process(es) under test, from /proc: CPU time
// (utime + stime of /proc/PID/stat) and resident memory (VmRSS of /proc/PID/status),
// summed over every PID given (haproxy/nginx workers).

#include <sys/types.h>

#include <optional>
#include <vector>

namespace zp::bench {

/// CPU seconds (user + system) used so far, summed; nullopt if a PID is unreadable.
std::optional<double> cpu_seconds(const std::vector<pid_t>& pids);
/// Resident set size in KiB, summed; nullopt if a PID is unreadable.
std::optional<long> rss_kib(const std::vector<pid_t>& pids);

}  // namespace zp::bench
