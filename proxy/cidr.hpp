#pragma once
// An IPv4 or IPv6 address range in CIDR notation ("10.0.0.0/8", "2001:db8::/32", or a
// single address), for PROTOCOL.md 3.7's proxy_protocol_sources. An IPv4-mapped IPv6
// peer (::ffff:a.b.c.d, a dual-stack listener) matches the IPv4 range it maps to.

#include <asio/ip/address.hpp>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace zp::proxy {

class cidr {
 public:
  /// "ADDR/PREFIX" or "ADDR"; nullopt when either part is malformed or the prefix is
  /// longer than the family allows. Host bits are cleared ("10.1.2.3/8" is 10.0.0.0/8).
  static std::optional<cidr> parse(std::string_view text);
  bool contains(const asio::ip::address& a) const;
  /// Canonical text: "10.0.0.0/8".
  std::string to_string() const;
  bool operator==(const cidr&) const = default;

 private:
  std::array<unsigned char, 16> bytes_{};  // IPv4 in the first 4
  bool v4_ = true;
  unsigned prefix_ = 0;
};

}  // namespace zp::proxy
