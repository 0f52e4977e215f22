#pragma once
// The session log (README "Session log"): one line when a session is paired and one when
// it ends, never sampled, so "what happened to session X?" is answered by grepping the
// log for the first 8 characters of its id. And the refusals before pairing, aggregated
// per source and reason (proxy/refusal_log.hpp).

#include "proxy/session_id.hpp"
#include "proxy/stats.hpp"

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zp::proxy {

/// `session_log` in the config: both lines, only the end, or neither.
enum class session_log_mode : std::uint8_t { all, ends, off };
std::optional<session_log_mode> parse_session_log_mode(std::string_view name);

/// How a session ended, as HAProxy's termination state has it: who ended it first, then
/// the event. Printed as `termination=<side>_<how>`, e.g. endpoint_fin, proxy_killed.
struct termination {
  enum class side : std::uint8_t { endpoint, module_server, proxy };
  enum class how : std::uint8_t {
    close_notify,  // a clean end of stream with TLS close_notify
    fin,           // a clean end of stream, TCP FIN without close_notify
    reset,         // TCP RST, or a write into a connection the peer had reset
    tls_error,     // a bad record or alert
    error,         // a socket error, or a connection that could not be taken over
    idle_timeout,  // the proxy: idle_timeout_s without a byte either way
    revoked,       // the proxy: the Module Server's certificate was revoked
    ca_replaced,   // the proxy: that certificate no longer chains after PUT /v1/trust/cas
    killed,        // the proxy: DELETE /v1/sessions
    drain,         // the proxy: drain_timeout_s ran out during a stop
  };
  side by = side::proxy;
  how what = how::error;
};
std::string termination_name(const termination& t);

/// What the two lines say about one session.
struct session_record {
  session_id id;
  unsigned worker = 0;
  asio::ip::tcp::endpoint endpoint, module_server;  // the PROXY v2 source where there was one
  std::string ms_subject, ms_sha256;                // the Module Server's client certificate
  role waited = role::endpoint;                     // the half that came first
  std::chrono::steady_clock::duration wait{};       // its wait, from its hello to the other's claim
};

/// `event=session_paired ...`, at info.
void log_session_paired(const session_record& r);
/// `event=session_ended ...`, at info: the record, then how long it lived, the bytes each
/// way, the termination and the reason of zoneproxy_sessions_ended_total.
void log_session_ended(const session_record& r, double duration_s, std::uint64_t bytes_to_module_server,
                       std::uint64_t bytes_to_endpoint, const termination& t, end_reason why);

/// "203.0.113.7:51234", "[2001:db8::1]:443".
std::string address_and_port(const asio::ip::tcp::endpoint& e);

}  // namespace zp::proxy
