#include "common/process_stats.hpp"

#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace zp {

std::uint64_t open_fd_count() {
  std::error_code ec;
  std::uint64_t n = 0;
  for (auto it = std::filesystem::directory_iterator("/proc/self/fd", ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    ++n;
  }
  return n;
}

std::uint64_t fd_limit() {
  rlimit lim{};
  return ::getrlimit(RLIMIT_NOFILE, &lim) == 0 ? lim.rlim_cur : 0;
}

std::uint64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  std::uint64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<std::uint64_t>(::sysconf(_SC_PAGESIZE));
}

namespace {

// Fields 14 (utime) and 15 (stime) of /proc/self/stat, after the command name (which may
// hold spaces, so parsing starts after its closing parenthesis).
std::vector<std::string> stat_fields() {
  std::ifstream f("/proc/self/stat");
  std::string line;
  std::getline(f, line);
  std::vector<std::string> out;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return out;
  std::istringstream rest(line.substr(close + 2));
  for (std::string field; rest >> field;) out.push_back(field);
  return out;  // out[0] is field 3 (state)
}

}  // namespace

double cpu_seconds() {
  const auto f = stat_fields();
  if (f.size() < 13) return 0;
  const double ticks = std::stod(f[11]) + std::stod(f[12]);  // utime, stime
  return ticks / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

double start_time_seconds() {
  // Wall-clock time when this was first asked, minus the process's age then; the process
  // asks early (the daemon's start), so this is its start to within a tick.
  static const double start = [] {
    const auto f = stat_fields();
    std::ifstream up("/proc/uptime");
    double uptime = 0;
    up >> uptime;
    if (f.size() < 20 || uptime == 0) {
      return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    }
    const double started_after_boot = std::stod(f[19]) / static_cast<double>(::sysconf(_SC_CLK_TCK));
    const double now = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    return now - uptime + started_after_boot;
  }();
  return start;
}

}  // namespace zp
