#pragma once
// Talks to a real daemon's control API (17488) the way the Module Server would, and
// provisions it with the test PKI through zoneproxyctl (a real process).

#include "tests/support/daemon.hpp"
#include "tests/support/tls_client.hpp"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <optional>
#include <string>

namespace zp::test {

/// A free TCP port on 127.0.0.1 (bound, then released).
std::uint16_t free_port();

/// One request on a new connection; nullopt if the connection or handshake failed.
std::optional<http_reply> api_call(std::uint16_t port, SSL_CTX* ctx, const std::string& method, const std::string& path,
                                   const std::string& body = {}, const std::string& token = {});

/// One sample of a Prometheus exposition, e.g.
/// `zoneproxy_connections_rejected_total{listener="endpoint",reason="x"}`; -1 if absent.
double metric_sample(const std::string& exposition, const std::string& sample);

/// Client contexts for 17488: no certificate, or the test PKI's Module Server client
/// certificate ("ms-client" or "ms-client2").
ssl_ctx_ptr anonymous_ctx();
ssl_ctx_ptr module_server_ctx(const std::string& name = "ms-client");

/// SHA-256 of a test PKI certificate file, hex.
std::string pki_cert_sha256(const std::string& name);
/// The SPKI SHA-256 of a state directory's ECDSA identity: what an operator pins.
std::string identity_pin(const std::filesystem::path& state_dir);

/// Runs zoneproxyctl with the test PKI's certificate options (and --ca, the zone CA) plus
/// `args`; without them (`with_cert` false) the caller says how the proxy is verified.
run_result ctl(std::uint16_t port, std::vector<std::string> args, bool with_cert = true);

/// Provisions through `zoneproxyctl provision` with the bootstrap token from the
/// state dir; returns the data-plane ports on success.
std::optional<std::pair<std::uint16_t, std::uint16_t>> provision(daemon& d, std::vector<std::string> extra = {});
/// The same for a daemon this test did not start (a Windows service): its control API
/// port and state directory.
std::optional<std::pair<std::uint16_t, std::uint16_t>> provision(std::uint16_t api_port,
                                                                 const std::filesystem::path& state_dir,
                                                                 std::vector<std::string> extra = {});

}  // namespace zp::test
