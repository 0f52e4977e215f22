#pragma once
// This process's resource use, for /v1/diagnostics and /metrics (read from /proc).

#include <cstdint>

namespace zp {

/// Open file descriptors now.
std::uint64_t open_fd_count();
/// The descriptor limit in force (RLIMIT_NOFILE soft limit).
std::uint64_t fd_limit();
/// Resident set size in bytes.
std::uint64_t resident_bytes();

}  // namespace zp
