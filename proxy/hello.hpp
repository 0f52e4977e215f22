#pragma once
// The rendezvous hello (PROTOCOL.md 3.2) judged against the error table of 3.4.
// Pure: no I/O, so it is unit-tested and fuzzed alone.

#include "common/http_request_parser.hpp"
#include "proxy/reject_reason.hpp"
#include "proxy/session_id.hpp"

#include <string_view>
#include <variant>

namespace zp::proxy {

/// A hello refused: its reason (whose row gives the PROTOCOL.md 3.4 status and code) and
/// the message of the error body.
struct hello_error {
  reject_reason reason;
  std::string_view message;
  constexpr int status() const { return def_of(reason).status; }
  constexpr std::string_view code() const { return def_of(reason).code; }
  friend bool operator==(const hello_error&, const hello_error&) = default;
};

/// A parser sized for hellos: 8192-byte head, no body (what follows is early data).
http_request_parser make_hello_parser();

/// The session id of a complete, valid hello, or the error to answer with.
/// Precondition: the parser is complete or failed.
std::variant<session_id, hello_error> check_hello(const http_request_parser& parser);

/// The standard errors, for the pairing outcomes decided outside the hello itself.
inline constexpr hello_error k_conflict{reject_reason::session_conflict,
                                        "a connection of this role is already waiting for this session"};
inline constexpr hello_error k_too_many_pending{reject_reason::too_many_pending,
                                                "too many waiting connections from this address"};
inline constexpr hello_error k_unavailable{reject_reason::unavailable, "the proxy cannot take this session now"};
inline constexpr hello_error k_draining{reject_reason::draining, "the proxy is draining"};
inline constexpr hello_error k_peer_timeout{reject_reason::peer_timeout, "no peer arrived within the pairing timeout"};
inline constexpr hello_error k_hello_timeout{reject_reason::hello_timeout, "the hello was not complete in time"};

}  // namespace zp::proxy
