#pragma once
// Refusals before pairing, logged at info but aggregated (README "Session log"): at
// accept (PROTOCOL.md 3.6) and at the hello (3.4), per listener, source address and
// reason, one line per interval with the count. A flood from many addresses costs at
// most k_max_keys lines per interval per worker (the rest are summed as peer=other),
// while zoneproxy_connections_rejected_total keeps every refusal.
//
// Owner: its worker_shard; used on that worker only.

#include "proxy/session_id.hpp"

#include <absl/container/flat_hash_map.h>
#include <asio/io_context.hpp>
#include <asio/ip/address.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>

namespace zp::proxy {

class refusal_log {
 public:
  static constexpr std::size_t k_max_keys = 100;

  refusal_log(asio::io_context& io, std::chrono::seconds interval);
  refusal_log(const refusal_log&) = delete;
  refusal_log& operator=(const refusal_log&) = delete;

  /// One refusal; `reason` must outlive the log (a static name).
  void add(role listener, const asio::ip::address& source, std::string_view reason);
  /// Writes what was counted since the last flush and stops the timer (on stop).
  void flush();

 private:
  using key = std::tuple<role, std::string, std::string_view>;
  void on_interval();

  const std::chrono::seconds interval_;
  asio::steady_timer timer_;
  bool armed_ = false;
  absl::flat_hash_map<key, std::uint64_t> counts_;
};

}  // namespace zp::proxy
