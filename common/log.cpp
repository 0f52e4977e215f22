#include "common/log.hpp"

#include "common/strings.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_sinks.h>

#include <cstdlib>
#include <memory>

#include <utility>

namespace zp::log {

namespace {

// `%*`: the syslog priority of the line's level, as a "<N>" prefix journald reads
// (SyslogLevelPrefix=, sd-daemon(3)), so `journalctl -p warning` selects by level.
class syslog_priority final : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&, spdlog::memory_buf_t& dest) override {
    static constexpr char k_priority[] = {'7', '7', '6', '4', '3', '2', '6'};  // trace..critical, off
    const char line[] = {'<', k_priority[static_cast<int>(msg.level)], '>'};
    dest.append(line, line + sizeof line);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override { return std::make_unique<syslog_priority>(); }
};

}  // namespace

void init(spdlog::level::level_enum level) {
  auto logger = spdlog::get("zoneproxy");
  if (!logger) {
    // The mutex-protected sink: workers log from several threads.
    logger = spdlog::stderr_logger_mt("zoneproxy");
    // Under systemd, stderr is a journal stream (JOURNAL_STREAM is set): prefix the
    // priority. Elsewhere (a terminal, a file) the line stays plain.
    const char* stream = std::getenv("JOURNAL_STREAM");
    const bool journal = stream != nullptr && *stream != '\0';
    auto formatter = std::make_unique<spdlog::pattern_formatter>(spdlog::pattern_time_type::utc);
    formatter->add_flag<syslog_priority>('*').set_pattern(journal ? "%*ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v"
                                                                  : "ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v");
    logger->set_formatter(std::move(formatter));
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
