#include "common/log.hpp"

#include "common/strings.hpp"

#include <spdlog/sinks/stdout_sinks.h>

#include <utility>

namespace zp::log {

void init(spdlog::level::level_enum level) {
  auto logger = spdlog::get("zoneproxy");
  if (!logger) {
    // The mutex-protected sink: workers log from several threads.
    logger = spdlog::stderr_logger_mt("zoneproxy");
    logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
    logger->flush_on(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  logger->set_level(level);
}

void add_sink(spdlog::sink_ptr sink) {
  // spdlog's sink list is not synchronised: this runs once, before any other thread logs.
  spdlog::default_logger()->sinks().push_back(std::move(sink));
}

bool rate_limit::allow(std::uint64_t& suppressed) {
  const std::int64_t now =
      std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::steady_clock::now().time_since_epoch()).count();
  std::int64_t next = next_ns_.load(std::memory_order_relaxed);
  // One caller per interval wins the CAS and writes the line; the others count.
  if (now < next || !next_ns_.compare_exchange_strong(next, now + std::chrono::nanoseconds(interval_).count(),
                                                      std::memory_order_relaxed)) {
    suppressed_.fetch_add(1, std::memory_order_relaxed);
    return false;
  }
  suppressed = suppressed_.exchange(0, std::memory_order_relaxed);
  return true;
}

absl::StatusOr<spdlog::level::level_enum> parse_level(std::string_view name) {
  if (name == "trace") return spdlog::level::trace;
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  return absl::InvalidArgumentError(
      str_cat("log_level: invalid value \"", name, "\" (expected trace|debug|info|warn|error)"));
}

std::string q(std::string_view value) {
  bool plain = !value.empty();
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f || c == '"' || c == '=' || c == '\\') plain = false;
  }
  if (plain) return std::string(value);
  std::string out = "\"";
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20 || u >= 0x7f) {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  out += '"';
  return out;
}

}  // namespace zp::log
