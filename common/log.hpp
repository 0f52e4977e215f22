#pragma once
// Logs: one line per event on stderr, `ts=... level=... event=<name> key=value ...`,
// which journald stores as is and grep/awk can take apart. Values that could break
// the key=value form are quoted with q().

#include <absl/status/statusor.h>
#include <spdlog/spdlog.h>

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
/// A value safe to print after `key=`: bare when it has no space, quote, '=' or
/// control character; otherwise double-quoted with \" and \\ and \xNN escapes.
std::string q(std::string_view value);

}  // namespace zp::log
