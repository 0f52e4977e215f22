#pragma once
// spdlog sink that writes each log line to the Windows Event Log (Application log,
// source "zoneproxy"), the service's equivalent of journald taking stderr under systemd.
// Only lifecycle events log at info or above (listening, provisioned, draining, errors),
// so the Event Log sees a handful of events per day, not one per connection.

#include "daemon/windows/service_host.hpp"

#include <spdlog/details/log_msg.h>
#include <spdlog/sinks/base_sink.h>

#include <mutex>
#include <string_view>

namespace zp::windows {

class event_log_sink final : public spdlog::sinks::base_sink<std::mutex> {
 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    std::string_view text(formatted.data(), formatted.size());
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
    write_event(severity_of(msg.level), text);
  }
  void flush_() override {}

 private:
  static event_severity severity_of(spdlog::level::level_enum level) {
    if (level >= spdlog::level::err) return event_severity::error;
    if (level == spdlog::level::warn) return event_severity::warning;
    return event_severity::info;
  }
};

}  // namespace zp::windows
