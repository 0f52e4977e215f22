#pragma once
// Logs: one line per event on stderr, `ts=... level=... event=<name> key=value ...`,
// which journald stores as is and grep/awk can take apart. Values that could break
// the key=value form are quoted with q().

#include <absl/status/statusor.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

namespace zp::log {

/// Sets up the stderr logger at the given level; idempotent.
void init(spdlog::level::level_enum level);
/// Adds a sink beside stderr (the Windows Event Log); call after init(), before any
/// other thread logs.
void add_sink(spdlog::sink_ptr sink);
/// trace|debug|info|warn|error → level, or InvalidArgument naming the value.
absl::StatusOr<spdlog::level::level_enum> parse_level(std::string_view name);
/// For an event that can repeat without bound (refused connections, failing accepts): at
/// most one log line per interval, and that line says how many were left out. A flood of
/// bad clients then costs one line per interval, while counters keep the exact tally.
/// Thread-safe and lock-free.
class rate_limit {
 public:
  explicit rate_limit(std::chrono::milliseconds interval = std::chrono::seconds(10)) : interval_(interval) {}
  /// True when a line may be written now; `suppressed` is then how many were not since
  /// the last one.
  bool allow(std::uint64_t& suppressed);

 private:
  const std::chrono::milliseconds interval_;
  std::atomic<std::int64_t> next_ns_{0};  // steady clock
  std::atomic<std::uint64_t> suppressed_{0};
};

/// A value safe to print after `key=`: bare when it has no space, quote, '=' or
/// control character; otherwise double-quoted with \" and \\ and \xNN escapes.
std::string q(std::string_view value);

}  // namespace zp::log
