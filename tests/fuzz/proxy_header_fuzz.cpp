// libFuzzer target: the PROXY v2 header a balancer sends before TLS on 17486 (PROTOCOL.md
// 3.7), fed byte by byte as the half reads it. Invariants: it never asks for a byte past
// the header or past 536 bytes, a verdict never changes once given, and the verdict of
// the whole input equals the one reached by reading it incrementally.

#include "proxy/proxy_header.hpp"

#include <cstdint>
#include <cstdlib>
#include <span>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using zp::proxy::parse_proxy_header;
  using kind = zp::proxy::proxy_header_verdict::kind;
  const std::span<const std::uint8_t> in(data, size);
  // As the half reads: ask, read exactly what was asked (or what there is), ask again.
  std::size_t have = 0;
  zp::proxy::proxy_header_verdict v = parse_proxy_header(in.first(0));
  while (v.what == kind::need_more && have < size) {
    if (v.size <= have || v.size > zp::proxy::k_max_proxy_header) std::abort();
    have = std::min(size, v.size);
    v = parse_proxy_header(in.first(have));
  }
  if (v.what != kind::need_more) {
    if (v.size > zp::proxy::k_max_proxy_header) std::abort();
    // Bytes after the verdict change nothing: they belong to the TLS handshake.
    const auto again = parse_proxy_header(in);
    if (again.what != v.what || again.size != v.size || again.source != v.source) std::abort();
  }
  return 0;
}
