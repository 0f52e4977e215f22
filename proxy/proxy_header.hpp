#pragma once
// The PROXY protocol v2 header a trusted load balancer puts before the TLS handshake on
// 17486 (PROTOCOL.md 3.7; the format is HAProxy's proxy-protocol.txt, section 2.2):
// 12-byte signature, version/command, family/transport, a 16-bit length, then the
// addresses (and TLVs, which are skipped). Pure: bytes in, a verdict out, so it is
// unit-tested and fuzzed alone; the half reads exactly the bytes it asks for, never a
// byte of the TLS handshake after it.

#include <asio/ip/tcp.hpp>

#include <cstddef>
#include <cstdint>
#include <span>

namespace zp::proxy {

/// PROTOCOL.md 3.7: a header over this many bytes is refused.
inline constexpr std::size_t k_max_proxy_header = 536;
/// The fixed part: signature, version/command, family, length.
inline constexpr std::size_t k_proxy_header_fixed = 16;

struct proxy_header_verdict {
  enum class kind {
    need_more,  // read until `size` bytes are there
    local,      // LOCAL (a health check) or an address family without one: the balancer is the peer
    proxied,    // `source` is the client's address
    invalid,    // not a v2 header, or over k_max_proxy_header: close without a response
  };
  kind what = kind::need_more;
  std::size_t size = k_proxy_header_fixed;  // the header's whole size, once known
  asio::ip::tcp::endpoint source;
};

/// Judges the first bytes of a connection. Given fewer than `size` bytes it asks for
/// more; it never needs bytes past the header.
proxy_header_verdict parse_proxy_header(std::span<const std::uint8_t> bytes);

}  // namespace zp::proxy
