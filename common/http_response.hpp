#pragma once
// HTTP/1.1 responses in the shapes PROTOCOL.md fixes: errors are
// {"error":{"code":"<code>","message":"<text>"}} with Content-Type application/json.

#include <nlohmann/json_fwd.hpp>

#include <string>
#include <string_view>

namespace zp {

/// Standard reason phrase for the statuses we send.
std::string_view http_reason(int status);
/// The JSON error body of PROTOCOL.md 3.4.
std::string error_body(std::string_view code, std::string_view message);
/// A complete response with a JSON body (empty body allowed for 204).
std::string http_response(int status, std::string_view json_body, bool keep_alive);
/// A complete error response; `keep_alive` false adds Connection: close.
std::string http_error_response(int status, std::string_view code, std::string_view message, bool keep_alive = false);

}  // namespace zp
