#include "proxy/proxy_header.hpp"

#include <algorithm>
#include <array>

namespace zp::proxy {
namespace {

constexpr std::array<std::uint8_t, 12> k_signature = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D,
                                                      0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};
constexpr std::uint8_t k_local = 0x20, k_proxy = 0x21;  // version 2, command LOCAL / PROXY
constexpr std::uint8_t k_family_inet = 0x1, k_family_inet6 = 0x2;
constexpr std::size_t k_inet_block = 12, k_inet6_block = 36;  // src, dst, src port, dst port

proxy_header_verdict verdict(proxy_header_verdict::kind k, std::size_t size = k_proxy_header_fixed) {
  proxy_header_verdict v;
  v.what = k;
  v.size = size;
  return v;
}

}  // namespace

proxy_header_verdict parse_proxy_header(std::span<const std::uint8_t> bytes) {
  using kind = proxy_header_verdict::kind;
  // A wrong byte is wrong as soon as it arrives: a client that is not a balancer's
  // PROXY header (a TLS ClientHello starts 0x16) is refused at its first byte.
  const std::size_t sig = std::min(bytes.size(), k_signature.size());
  if (!std::equal(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(sig), k_signature.begin())) {
    return verdict(kind::invalid);
  }
  if (bytes.size() > 12 && bytes[12] != k_local && bytes[12] != k_proxy) return verdict(kind::invalid);
  if (bytes.size() < k_proxy_header_fixed) return verdict(kind::need_more);
  const std::size_t size = k_proxy_header_fixed + (std::size_t{bytes[14]} << 8 | bytes[15]);
  if (size > k_max_proxy_header) return verdict(kind::invalid);
  const std::uint8_t family = bytes[13] >> 4;
  const std::size_t block = family == k_family_inet ? k_inet_block : family == k_family_inet6 ? k_inet6_block : 0;
  if (bytes[12] == k_proxy && size - k_proxy_header_fixed < block) return verdict(kind::invalid);
  if (bytes.size() < size) return verdict(kind::need_more, size);
  // LOCAL, and PROXY for UNSPEC or UNIX sockets, carry no usable address.
  if (bytes[12] == k_local || block == 0) return verdict(kind::local, size);
  const std::uint8_t* a = bytes.data() + k_proxy_header_fixed;
  proxy_header_verdict v = verdict(kind::proxied, size);
  if (family == k_family_inet) {
    v.source = {asio::ip::address_v4({a[0], a[1], a[2], a[3]}), static_cast<std::uint16_t>(a[8] << 8 | a[9])};
  } else {
    asio::ip::address_v6::bytes_type b;
    std::copy(a, a + 16, b.begin());
    v.source = {asio::ip::address_v6(b), static_cast<std::uint16_t>(a[32] << 8 | a[33])};
  }
  return v;
}

}  // namespace zp::proxy
