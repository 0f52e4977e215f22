#include "proxy/hello.hpp"

#include "proxy/data_plane_config.hpp"

namespace zp::proxy {

http_request_parser make_hello_parser() { return http_request_parser(k_max_hello_head, 0, /*head_only=*/true); }

std::variant<session_id, hello_error> check_hello(const http_request_parser& parser) {
  using error = http_request_parser::error;
  if (parser.current() == http_request_parser::state::failed) {
    if (parser.failure() == error::head_too_large) {
      static_assert(k_max_hello_head == 8192, "the message below names the bound");
      return hello_error{reject_reason::bad_request, "request head exceeds 8192 bytes"};
    }
    return hello_error{reject_reason::bad_request, "malformed request head"};
  }
  const http_request& req = parser.request();
  if (req.version_major != 1 || req.version_minor != 1)
    return hello_error{reject_reason::bad_request, "HTTP/1.1 required"};
  if (req.method != "GET") return hello_error{reject_reason::method_not_allowed, "only GET is allowed"};
  constexpr std::string_view prefix = "/v1/rendezvous/";
  std::string_view target = req.target;
  if (target.substr(0, prefix.size()) != prefix) return hello_error{reject_reason::not_found, "no such path"};
  auto id = session_id::parse(target.substr(prefix.size()));
  if (!id) return hello_error{reject_reason::bad_request, "bad session id (expected 32 lowercase hex characters)"};
  if (!req.header_has_token("connection", "upgrade") || !req.header_has_token("upgrade", "zoneproxy/1")) {
    return hello_error{reject_reason::upgrade_required, "Connection: Upgrade and Upgrade: zoneproxy/1 are required"};
  }
  return *id;
}

}  // namespace zp::proxy
