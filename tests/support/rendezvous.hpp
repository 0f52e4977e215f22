#pragma once
// Test clients that speak PROTOCOL.md 3 to a data plane: open a half (TLS + hello),
// read the proxy's answer, and pump payloads both ways through a paired session with
// non-blocking I/O so neither side can deadlock the other.

#include "tests/support/tls_client.hpp"

#include <array>
#include <chrono>
#include <memory>
#include <random>
#include <string>
#include <string_view>

namespace zp::test {

/// The hello of PROTOCOL.md 3.2 for `id`.
std::string hello_for(std::string_view id);
/// 32 random lowercase hex characters.
std::string random_session_id(std::mt19937_64& rng);

/// Connects, handshakes and sends the hello plus `early` bytes in one write; null if
/// the handshake failed (the reason is logged through gtest).
std::unique_ptr<tls_client> open_half(std::uint16_t port, SSL_CTX* ctx, std::string_view id,
                                      std::string_view early = {});

/// The exact success head of PROTOCOL.md 3.3.
inline constexpr std::string_view k_101 =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n";

/// Reads exactly k_101.size() bytes and says whether they are the 101 head.
bool read_101(tls_client& c);

/// Both halves of one new session: the endpoint's (e) and the Module Server's (m).
struct paired_halves {
  std::unique_ptr<tls_client> e, m;
};
/// Opens the endpoint half (with `early` behind its hello), then the Module Server half,
/// and reads both 101s (gtest failures otherwise).
paired_halves open_paired(std::uint16_t endpoint_port, SSL_CTX* endpoint_ctx, std::uint16_t module_server_port,
                          SSL_CTX* module_server_ctx, std::mt19937_64& rng, std::string_view early = {});

/// Reads until `n` bytes, the end of the stream or the timeout.
std::string read_exactly(tls_client& c, std::size_t n);

/// Result of pumping a session until both directions ended.
struct exchange_result {
  bool ok = false;  // both directions ended cleanly in time
  std::string a_received_sha256, b_received_sha256;
  std::size_t a_received = 0, b_received = 0;
  std::string error;
};

/// Writes `a_to_b` on a and `b_to_a` on b, ends both streams (close_notify + FIN) and
/// reads until each side sees the other's end; non-blocking, bounded by `timeout`.
exchange_result exchange(tls_client& a, tls_client& b, std::string_view a_to_b, std::string_view b_to_a,
                         std::chrono::seconds timeout = std::chrono::seconds(120));

/// The four suites of common/tls_policy.hpp one by one (OpenSSL's names), for tests
/// run once per suite, and a suite's name as a test name.
inline constexpr std::array<const char*, 4> k_each_suite{"ECDHE-ECDSA-AES128-GCM-SHA256",
                                                         "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES128-GCM-SHA256",
                                                         "ECDHE-RSA-AES256-GCM-SHA384"};
std::string suite_test_name(std::string_view suite);

/// SHA-256 of bytes, lowercase hex.
std::string sha256_hex(std::string_view data);

}  // namespace zp::test
