#pragma once
// The control API's route table (PROTOCOL.md 4.2): authentication, then method + path
// → an operation of the control plane, with the JSON error shape for everything that
// fails. Runs on the control thread.

#include "provisioning/api_types.hpp"
#include "provisioning/control_plane.hpp"

namespace zp::provisioning {

class routes {
 public:
  explicit routes(control_plane& plane) : plane_(plane) {}
  /// Answers one request; status 0 means "close the connection without an answer"
  /// (a client certificate revoked while its connection was open).
  api_response handle(const http_request& req, const api_request_context& ctx) const;

 private:
  std::optional<api_response> authenticate(const http_request& req, const api_request_context& ctx,
                                           bool identity_route) const;
  control_plane& plane_;
};

}  // namespace zp::provisioning
