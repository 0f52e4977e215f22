#pragma once
// Everything the data plane runs on, as one immutable snapshot: what a provision
// (PROTOCOL.md 4.2) carries, plus the local drain timeout. A new snapshot (settings or
// certificates changed) applies to new connections; live ones keep the one they began
// with.

#include "common/tls_policy.hpp"
#include "proxy/session_settings.hpp"

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <openssl/ssl.h>

namespace zp::proxy {

/// Fixed protocol bounds (PROTOCOL.md 3.2, 3.5).
inline constexpr std::size_t k_max_hello_head = 8192;
inline constexpr std::size_t k_max_early_data = 64 * 1024;
inline constexpr std::size_t k_relay_buffer = 64 * 1024;

struct data_plane_config {
  // Each data-plane port on its own address (a DMZ host with two interfaces exposes
  // 17487 only on the inner one).
  std::string endpoint_bind = "0.0.0.0";
  std::string module_server_bind = "0.0.0.0";
  std::uint16_t endpoint_port = 17486;
  std::uint16_t module_server_port = 17487;
  session_settings settings;
  std::chrono::seconds drain_timeout{30};
  /// Server contexts per listener, built with make_server_ctx(); 17487's requires a
  /// client certificate chained to the Module Server CA and not revoked, 17486's only
  /// when an endpoint CA was provisioned.
  std::shared_ptr<SSL_CTX> endpoint_ctx;
  std::shared_ptr<SSL_CTX> module_server_ctx;
  /// Whether a Module Server certificate (SHA-256, hex) is revoked now; checked again when
  /// a handshake ends and when a relay starts (a revocation may land in between). Empty:
  /// nothing is revoked.
  std::function<bool(const std::string&)> is_revoked;
};

}  // namespace zp::proxy
