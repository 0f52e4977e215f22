#pragma once
// What a control-API handler sees and answers.

#include "common/http_request_parser.hpp"

#include <openssl/x509.h>

#include <functional>
#include <string>

namespace zp::provisioning {

/// One response; `body` is JSON (or Prometheus text when content_type says so).
struct api_response {
  int status = 200;
  std::string body;
  std::string content_type = "application/json";
};

/// Facts about the connection a request came on.
struct api_request_context {
  /// The verified client certificate's leaf, or null (not owned; valid during the call).
  X509* client_cert = nullptr;
  /// The chain the client sent with it (not owned; may be null).
  STACK_OF(X509) * client_chain = nullptr;
  std::string peer;  // "ip:port"
};

/// The router: every request on 17488 goes through one of these.
using api_handler = std::function<api_response(const http_request&, const api_request_context&)>;

}  // namespace zp::provisioning
