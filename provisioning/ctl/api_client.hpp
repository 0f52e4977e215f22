#pragma once
// zoneproxyctl's HTTPS client for 17488: one blocking connection per request, mutual
// TLS with the section-2 policy, and the proxy always verified unless `insecure`: by SPKI
// pin (the fingerprints the proxy logs at start), or by its chain to `trusted` (the zone
// CA) and its name (SNI and host check against the address the client connects to), or,
// with neither, by the system's trusted CAs and its name.

#include "common/openssl_ptr.hpp"
#include "common/tls_policy.hpp"

#include <absl/status/statusor.h>

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace zp::ctl {

struct client_options {
  std::string host = "127.0.0.1";
  std::uint16_t port = 17488;
  std::optional<tls_identity> client_cert;  // the Module Server certificate
  std::vector<x509_ptr> trusted;            // CA(s) the server chain must verify against
  std::vector<std::string> pins;            // accepted server SPKI SHA-256 (hex)
  bool insecure = false;                    // no verification at all (--insecure)
  std::string token;                        // bootstrap bearer token
  std::chrono::seconds timeout{15};
};

struct http_result {
  int status = 0;
  std::string body;
};

/// One command's (or one `top` run's) client of one proxy. Owns the client SSL_CTX,
/// built once, and the last resumable TLS session, which it offers on the next request:
/// each request is still its own TCP connection (Connection: close), but the second and
/// later ones resume with the proxy's session ticket instead of a full handshake. The
/// proxy judges a resumed handshake like a full one and refuses tickets from before a
/// change of trust (PROTOCOL.md 2); the pin is checked on every request. Not thread-safe.
class api_client {
 public:
  /// Builds the TLS context from `o` (client certificate, trusted CAs).
  static absl::StatusOr<api_client> create(client_options o);

  /// Sends one request; a Status error means the proxy could not be reached or the TLS
  /// handshake (or pin) failed, not that it answered with an error status.
  absl::StatusOr<http_result> call(const std::string& method, const std::string& path, const std::string& body = {});

  /// How many requests' handshakes resumed the session of an earlier one.
  std::size_t resumed() const { return resumed_; }
  const client_options& options() const { return options_; }

 private:
  api_client(client_options o, ssl_ctx_ptr ctx) : options_(std::move(o)), ctx_(std::move(ctx)) {}

  client_options options_;
  ssl_ctx_ptr ctx_;
  ssl_session_ptr session_;  // null until a verified handshake gave a resumable session
  std::size_t resumed_ = 0;
};

}  // namespace zp::ctl
