#pragma once
// The control API's route table (PROTOCOL.md 4.2): method + path → handler, with the
// JSON error shape for everything that does not match.

#include "provisioning/api_types.hpp"

#include <string>

namespace zp::provisioning {

/// What the routes read from the running daemon.
struct route_context {
  std::string state = "unprovisioned";
  std::string rsa_spki_sha256;
  std::string ecdsa_spki_sha256;
};

class routes {
 public:
  explicit routes(route_context context) : context_(std::move(context)) {}
  /// Answers one request.
  api_response handle(const http_request& req, const api_request_context& ctx) const;

 private:
  api_response identity() const;
  route_context context_;
};

}  // namespace zp::provisioning
