#pragma once
// PROTOCOL.md 4.2 `settings`: the struct the data plane reads, and k_settings, one row
// per setting, the only place where a setting's JSON name, kind, bounds and limit gauge
// are written. Parsing (PUT /v1/settings, provision, provisioned.json), the JSON of
// /v1/diagnostics, zoneproxyctl's typing of `settings key=value` and the limit gauges of
// /metrics all read the rows. To add a setting: a field below, its row, and the code that
// uses it (ARCHITECTURE.md "Lists of names: one table each").

#include "common/acceptor.hpp"
#include "common/enum_table.hpp"
#include "proxy/cidr.hpp"

#include <chrono>
#include <cstdint>
#include <string_view>
#include <vector>

namespace zp::proxy {

struct session_settings {
  std::chrono::seconds pair_timeout{30};
  std::chrono::seconds idle_timeout{900};  // 0 = never
  std::chrono::seconds hello_timeout{10};
  std::uint64_t max_sessions = 100000;
  std::uint64_t max_pending = 100000;
  std::uint64_t max_pending_per_source = 64;
  // PROTOCOL.md 3.6 (admission before the hello).
  std::uint64_t max_admitting = 10000;
  std::uint64_t max_admitting_per_source = 32;
  std::uint64_t max_early_data_bytes = 256ull * 1024 * 1024;
  // TCP keepalive of every data connection (tcp_keepalive_idle_s, _interval_s, _count).
  keepalive_settings keepalive;
  // PROTOCOL.md 3.7: load balancers whose connections to 17486 begin with a PROXY v2
  // header.
  std::vector<cidr> proxy_protocol_sources;
  bool from_balancer(const asio::ip::address& a) const {
    for (const cidr& c : proxy_protocol_sources) {
      if (c.contains(a)) return true;
    }
    return false;
  }
};

enum class setting : std::uint8_t {
  pair_timeout_s,
  idle_timeout_s,
  hello_timeout_s,
  max_sessions,
  max_pending,
  max_pending_per_source,
  max_admitting,
  max_admitting_per_source,
  max_early_data_bytes,
  tcp_keepalive_idle_s,
  tcp_keepalive_interval_s,
  tcp_keepalive_count,
  proxy_protocol_sources,
  count
};

/// What a setting's JSON value is: a whole number (seconds, a count, bytes), or a list of
/// IPv4/IPv6 CIDR strings.
enum class setting_kind : std::uint8_t { seconds, count, bytes, cidr_list };

struct setting_def {
  setting id;
  std::string_view key;  // its JSON name
  setting_kind kind;
  // Bounds, chosen so no value can exhaust the machine or stall a session for ever by
  // accident; for a list, the most entries.
  std::uint64_t min;
  std::uint64_t max;
  // A number's value in a session_settings (null for a list).
  std::uint64_t (*get)(const session_settings&);
  void (*set)(session_settings&, std::uint64_t);
  // A gauge in /metrics showing the limit, so that fullness is one division; or empty.
  std::string_view limit_gauge = {};
  std::string_view limit_help = {};
};

namespace settings_detail {
template <auto Field>
constexpr std::uint64_t number(const session_settings& s) {
  return s.*Field;
}
template <auto Field>
constexpr void set_number(session_settings& s, std::uint64_t v) {
  s.*Field = v;
}
template <auto Field>
constexpr std::uint64_t seconds(const session_settings& s) {
  return static_cast<std::uint64_t>((s.*Field).count());
}
template <auto Field>
constexpr void set_seconds(session_settings& s, std::uint64_t v) {
  s.*Field = std::chrono::seconds(v);
}
constexpr std::uint64_t k_week_s = 7 * 24 * 3600;
constexpr std::uint64_t k_max_keepalive_s = 32767;    // TCP_KEEPIDLE, TCP_KEEPINTVL on Linux
constexpr std::uint64_t k_max_keepalive_count = 127;  // TCP_KEEPCNT on Linux
}  // namespace settings_detail

inline constexpr setting_def k_settings[] = {
    {setting::pair_timeout_s, "pair_timeout_s", setting_kind::seconds, 1, settings_detail::k_week_s,
     settings_detail::seconds<&session_settings::pair_timeout>,
     settings_detail::set_seconds<&session_settings::pair_timeout>},
    {setting::idle_timeout_s, "idle_timeout_s", setting_kind::seconds, 0, settings_detail::k_week_s,  // 0 = never
     settings_detail::seconds<&session_settings::idle_timeout>,
     settings_detail::set_seconds<&session_settings::idle_timeout>},
    {setting::hello_timeout_s, "hello_timeout_s", setting_kind::seconds, 1, settings_detail::k_week_s,
     settings_detail::seconds<&session_settings::hello_timeout>,
     settings_detail::set_seconds<&session_settings::hello_timeout>},
    {setting::max_sessions, "max_sessions", setting_kind::count, 1, 10'000'000,
     settings_detail::number<&session_settings::max_sessions>,
     settings_detail::set_number<&session_settings::max_sessions>, "zoneproxy_max_sessions",
     "settings.max_sessions: live sessions allowed."},
    // The pairing table preallocates for max_pending.
    {setting::max_pending, "max_pending", setting_kind::count, 1, 1'000'000,
     settings_detail::number<&session_settings::max_pending>,
     settings_detail::set_number<&session_settings::max_pending>, "zoneproxy_max_pending",
     "settings.max_pending: waiting halves allowed."},
    {setting::max_pending_per_source, "max_pending_per_source", setting_kind::count, 1, 1'000'000,
     settings_detail::number<&session_settings::max_pending_per_source>,
     settings_detail::set_number<&session_settings::max_pending_per_source>, "zoneproxy_max_pending_per_source",
     "settings.max_pending_per_source."},
    {setting::max_admitting, "max_admitting", setting_kind::count, 1, 1'000'000,
     settings_detail::number<&session_settings::max_admitting>,
     settings_detail::set_number<&session_settings::max_admitting>, "zoneproxy_max_admitting",
     "settings.max_admitting: connections before their hello."},
    {setting::max_admitting_per_source, "max_admitting_per_source", setting_kind::count, 1, 1'000'000,
     settings_detail::number<&session_settings::max_admitting_per_source>,
     settings_detail::set_number<&session_settings::max_admitting_per_source>, "zoneproxy_max_admitting_per_source",
     "settings.max_admitting_per_source."},
    {setting::max_early_data_bytes, "max_early_data_bytes", setting_kind::bytes, 0, std::uint64_t{1} << 40,
     settings_detail::number<&session_settings::max_early_data_bytes>,
     settings_detail::set_number<&session_settings::max_early_data_bytes>, "zoneproxy_max_early_data_bytes",
     "settings.max_early_data_bytes, over all waiting halves."},
    {setting::tcp_keepalive_idle_s, "tcp_keepalive_idle_s", setting_kind::seconds, 1,
     settings_detail::k_max_keepalive_s,
     [](const session_settings& s) { return static_cast<std::uint64_t>(s.keepalive.idle.count()); },
     [](session_settings& s, std::uint64_t v) { s.keepalive.idle = std::chrono::seconds(v); }},
    {setting::tcp_keepalive_interval_s, "tcp_keepalive_interval_s", setting_kind::seconds, 1,
     settings_detail::k_max_keepalive_s,
     [](const session_settings& s) { return static_cast<std::uint64_t>(s.keepalive.interval.count()); },
     [](session_settings& s, std::uint64_t v) { s.keepalive.interval = std::chrono::seconds(v); }},
    {setting::tcp_keepalive_count, "tcp_keepalive_count", setting_kind::count, 1,
     settings_detail::k_max_keepalive_count, [](const session_settings& s) { return std::uint64_t{s.keepalive.count}; },
     [](session_settings& s, std::uint64_t v) { s.keepalive.count = static_cast<std::uint32_t>(v); }},
    {setting::proxy_protocol_sources, "proxy_protocol_sources", setting_kind::cidr_list, 0, 64, nullptr, nullptr},
};
static_assert(rows_match(k_settings, setting::count), "k_settings: a row per setting, in order");

constexpr const setting_def& def_of(setting s) { return row_of(k_settings, s); }
/// The row named `key`, or null.
constexpr const setting_def* find_setting(std::string_view key) {
  for (const setting_def& d : k_settings) {
    if (d.key == key) return &d;
  }
  return nullptr;
}
inline constexpr std::size_t k_max_proxy_protocol_sources = def_of(setting::proxy_protocol_sources).max;

}  // namespace zp::proxy
