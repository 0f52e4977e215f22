#include "bench/harness/proc_stats.hpp"

#include <unistd.h>

#include <array>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace zp::bench {
namespace {

// The numbers of a /proc status file's "Key:  value [kB]" lines for `keys`, in their
// order; nullopt for a key the file does not have (or a file gone with its thread).
template <std::size_t N>
std::array<std::optional<std::uint64_t>, N> status_values(const std::filesystem::path& file,
                                                          const std::array<std::string_view, N>& keys) {
  std::array<std::optional<std::uint64_t>, N> values;
  std::ifstream in(file);
  std::string line;
  while (std::getline(in, line)) {
    const auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    const std::string_view key(line.data(), colon);
    for (std::size_t i = 0; i < N; ++i) {
      if (key == keys[i]) values[i] = std::stoull(line.substr(colon + 1));
    }
  }
  return values;
}

}  // namespace

std::optional<double> cpu_seconds(const std::vector<pid_t>& pids) {
  if (pids.empty()) return std::nullopt;
  const double ticks_per_s = static_cast<double>(::sysconf(_SC_CLK_TCK));
  double total = 0;
  for (pid_t pid : pids) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line)) return std::nullopt;
    // The command name (field 2) may hold spaces and parentheses: fields are counted
    // from the last ')'. After it: state (3) ... utime (14), stime (15).
    const auto paren = line.rfind(')');
    if (paren == std::string::npos) return std::nullopt;
    std::istringstream fields(line.substr(paren + 1));
    std::string skip;
    for (int field = 3; field < 14; ++field) fields >> skip;
    unsigned long long utime = 0, stime = 0;
    if (!(fields >> utime >> stime)) return std::nullopt;
    total += static_cast<double>(utime + stime) / ticks_per_s;
  }
  return total;
}

std::optional<double> machine_cpu_seconds() {
  std::ifstream in("/proc/stat");
  std::string cpu;
  unsigned long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0;
  if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq) || cpu != "cpu") return std::nullopt;
  return static_cast<double>(user + nice + system + irq + softirq) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

std::optional<long> rss_kib(const std::vector<pid_t>& pids) {
  if (pids.empty()) return std::nullopt;
  long total = 0;
  for (pid_t pid : pids) {
    const auto [rss] = status_values<1>("/proc/" + std::to_string(pid) + "/status", {"VmRSS"});
    if (!rss) return std::nullopt;
    total += static_cast<long>(*rss);
  }
  return total;
}

std::optional<switch_counts> context_switches(const std::vector<pid_t>& pids) {
  if (pids.empty()) return std::nullopt;
  switch_counts total;
  for (pid_t pid : pids) {
    std::error_code ec;
    std::filesystem::directory_iterator tasks("/proc/" + std::to_string(pid) + "/task", ec);
    if (ec) return std::nullopt;
    for (const auto& task : tasks) {
      // A thread that ended between the listing and this read is skipped: its switches
      // are gone from every later reading as well.
      const auto [voluntary, involuntary] =
          status_values<2>(task.path() / "status", {"voluntary_ctxt_switches", "nonvoluntary_ctxt_switches"});
      total.voluntary += voluntary.value_or(0);
      total.involuntary += involuntary.value_or(0);
    }
  }
  return total;
}

}  // namespace zp::bench
