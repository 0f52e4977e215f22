#pragma once
// zoneproxyctl's HTTPS client for 17488: one blocking connection per command, mutual
// TLS with the section-2 policy, and server authentication by SPKI pin (before
// provisioning: the identity fingerprints the proxy logged) or by a CA (after).

#include "common/openssl_ptr.hpp"
#include "common/tls_policy.hpp"

#include <absl/status/statusor.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace zp::ctl {

struct client_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 17488;
  std::optional<tls_identity> client_cert;  // the Module Server certificate
  std::vector<x509_ptr> trusted;            // CA(s) the server chain must verify against
  std::vector<std::string> pins;            // accepted server SPKI SHA-256 (hex)
  std::string token;                        // bootstrap bearer token
  std::chrono::seconds timeout{15};
};

struct http_result {
  int status = 0;
  std::string body;
};

/// Sends one request; a Status error means the proxy could not be reached or the TLS
/// handshake (or pin) failed, not that it answered with an error status.
absl::StatusOr<http_result> call(const client_options& o, const std::string& method, const std::string& path,
                                 const std::string& body = {});

}  // namespace zp::ctl
