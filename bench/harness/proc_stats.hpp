#pragma once
// What the harness reads about the process(es) under test, from /proc: CPU time
// (utime + stime of /proc/PID/stat) and resident memory (VmRSS of /proc/PID/status),
// summed over every PID given (haproxy/nginx workers), and context switches (every
// thread's /proc/PID/task/TID/status).

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <vector>

namespace zp::bench {

/// CPU seconds (user + system) used so far, summed; nullopt if a PID is unreadable.
std::optional<double> cpu_seconds(const std::vector<pid_t>& pids);
/// CPU seconds all processes of the machine used so far, summed over its CPUs (the
/// first line of /proc/stat: user, nice, system, irq and softirq; not idle, iowait or
/// the time the hypervisor took); nullopt if unreadable.
std::optional<double> machine_cpu_seconds();
/// Resident set size in KiB, summed; nullopt if a PID is unreadable.
std::optional<long> rss_kib(const std::vector<pid_t>& pids);

struct switch_counts {
  std::uint64_t voluntary = 0;    // the thread blocked (nothing to do: it sleeps until woken)
  std::uint64_t involuntary = 0;  // the thread was preempted with work in hand
};
/// Context switches so far of every thread, summed; nullopt if a PID is unreadable.
std::optional<switch_counts> context_switches(const std::vector<pid_t>& pids);

}  // namespace zp::bench
