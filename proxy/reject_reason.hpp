#pragma once
// Why a data-plane connection was turned away: one row per reason, the only place to add
// one. A row gives the name `/metrics` (reason label), `/v1/diagnostics` and the refusal
// log use, and what the client gets: the PROTOCOL.md 3.4 status and code, or a close with
// no response. To add a reason: a value here, its row below, and the code that refuses.

#include "common/enum_table.hpp"

#include <cstdint>
#include <string_view>

namespace zp::proxy {

enum class reject_reason : std::uint8_t {
  bad_request,
  not_found,
  method_not_allowed,
  upgrade_required,
  session_conflict,
  too_many_pending,
  unavailable,
  draining,
  peer_timeout,
  hello_timeout,
  admitting_per_source,
  admitting_total,
  fd_reserve,
  proxy_header,
  count
};

struct reject_reason_def {
  reject_reason id;
  std::string_view name;  // label value, diagnostics key, refusal log reason
  int status;             // the 3.4 status answered; 0: closed with no response
  std::string_view code;  // the 3.4 code of the JSON error body
};

inline constexpr reject_reason_def k_reject_reasons[] = {
    {reject_reason::bad_request, "bad_request", 400, "bad_request"},
    {reject_reason::not_found, "not_found", 404, "not_found"},
    {reject_reason::method_not_allowed, "method_not_allowed", 405, "method_not_allowed"},
    {reject_reason::upgrade_required, "upgrade_required", 426, "upgrade_required"},
    {reject_reason::session_conflict, "session_conflict", 409, "session_conflict"},
    {reject_reason::too_many_pending, "too_many_pending", 429, "too_many_pending"},
    {reject_reason::unavailable, "unavailable", 503, "unavailable"},
    // PROTOCOL.md 3.5: the same answer as unavailable, counted apart so that a drain's
    // refusals do not read as a capacity problem.
    {reject_reason::draining, "draining", 503, "unavailable"},
    {reject_reason::peer_timeout, "peer_timeout", 504, "peer_timeout"},
    {reject_reason::hello_timeout, "hello_timeout", 408, "hello_timeout"},
    // PROTOCOL.md 3.6: closed at accept.
    {reject_reason::admitting_per_source, "admitting_per_source", 0, {}},
    {reject_reason::admitting_total, "admitting_total", 0, {}},
    {reject_reason::fd_reserve, "fd_reserve", 0, {}},
    // PROTOCOL.md 3.7: a balancer's connection without a valid PROXY v2 header in time.
    {reject_reason::proxy_header, "proxy_header", 0, {}},
};
static_assert(rows_match(k_reject_reasons, reject_reason::count), "k_reject_reasons: a row per reason, in order");

constexpr const reject_reason_def& def_of(reject_reason r) { return row_of(k_reject_reasons, r); }
constexpr std::string_view reject_reason_name(reject_reason r) {
  return r < reject_reason::count ? def_of(r).name : "unknown";
}

}  // namespace zp::proxy
