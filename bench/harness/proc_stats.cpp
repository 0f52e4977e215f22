#include "bench/harness/proc_stats.hpp"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace zp::bench {

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
    std::ifstream in("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    bool found = false;
    while (std::getline(in, line)) {
      if (line.rfind("VmRSS:", 0) == 0) {
        total += std::stol(line.substr(6));
        found = true;
        break;
      }
    }
    if (!found) return std::nullopt;
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
      std::ifstream in(task.path() / "status");
      std::string line;
      while (std::getline(in, line)) {
        std::uint64_t* into = line.rfind("voluntary_ctxt_switches:", 0) == 0      ? &total.voluntary
                              : line.rfind("nonvoluntary_ctxt_switches:", 0) == 0 ? &total.involuntary
                                                                                  : nullptr;
        if (into != nullptr) *into += std::stoull(line.substr(line.find(':') + 1));
      }
    }
  }
  return total;
}

}  // namespace zp::bench
