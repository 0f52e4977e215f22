// Windows: handles (sockets, files, threads, events) stand in for descriptors; there is no
// per-process limit on them to raise or to report (fd_limit() is 0: the admission limits
// of PROTOCOL.md 3.6 are the bound, and the descriptor reserve is off).
#include "common/process_stats.hpp"

#include <windows.h>
// After windows.h, whose types it uses.
#include <psapi.h>

namespace zp {
namespace {

// 100 ns units since 1601-01-01.
double filetime_seconds(const FILETIME& t) {
  ULARGE_INTEGER v;
  v.LowPart = t.dwLowDateTime;
  v.HighPart = t.dwHighDateTime;
  return static_cast<double>(v.QuadPart) / 1e7;
}

}  // namespace

std::uint64_t open_fd_count() {
  DWORD count = 0;
  return ::GetProcessHandleCount(::GetCurrentProcess(), &count) ? count : 0;
}

std::uint64_t fd_limit() { return 0; }

std::uint64_t resident_bytes() {
  PROCESS_MEMORY_COUNTERS counters{};
  counters.cb = sizeof counters;
  return ::GetProcessMemoryInfo(::GetCurrentProcess(), &counters, sizeof counters) ? counters.WorkingSetSize : 0;
}

double cpu_seconds() {
  FILETIME created, exited, kernel, user;
  if (!::GetProcessTimes(::GetCurrentProcess(), &created, &exited, &kernel, &user)) return 0;
  return filetime_seconds(kernel) + filetime_seconds(user);
}

double start_time_seconds() {
  FILETIME created, exited, kernel, user;
  if (!::GetProcessTimes(::GetCurrentProcess(), &created, &exited, &kernel, &user)) return 0;
  constexpr double k_unix_epoch = 11644473600.0;  // 1970-01-01 in seconds since 1601-01-01
  return filetime_seconds(created) - k_unix_epoch;
}

}  // namespace zp
