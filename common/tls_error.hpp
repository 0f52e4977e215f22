#pragma once
// std::error_code for TLS failures, so the data path reports OpenSSL errors without
// exceptions and metrics can count them by reason.

#include <string>
#include <system_error>

namespace zp {

/// Category whose values are OpenSSL packed error codes (ERR_PACK(lib, 0, reason)).
const std::error_category& tls_category();

/// The oldest error on this thread's OpenSSL queue as an error_code (queue cleared);
/// a generic protocol error if the queue is empty.
std::error_code take_tls_error();

/// Short stable reason name for metrics and logs, e.g. "no_shared_cipher",
/// "unsupported_protocol", "certificate_verify_failed", "eof", "reset", "timeout".
std::string tls_reason_name(const std::error_code& ec);

}  // namespace zp
