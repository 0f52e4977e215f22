#pragma once
// This process's resource use, read from /proc and getrlimit.

#include <cstdint>

namespace zp {

/// Open file descriptors now (walks /proc/self/fd: not for a hot path).
std::uint64_t open_fd_count();
/// The descriptor limit in force (RLIMIT_NOFILE soft limit).
std::uint64_t fd_limit();
/// Resident set size in bytes.
std::uint64_t resident_bytes();
/// CPU time used (user + system), seconds.
double cpu_seconds();
/// When the process started, Unix time.
double start_time_seconds();

}  // namespace zp
