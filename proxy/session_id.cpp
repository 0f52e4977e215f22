#include "proxy/session_id.hpp"

namespace zp::proxy {

namespace {

// Only lowercase is accepted (PROTOCOL.md 3.1); -1 marks every other byte, so an
// uppercase id is a bad id (400) rather than an alias of a lowercase one.
int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

}  // namespace

std::optional<session_id> session_id::parse(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  session_id id;
  for (std::size_t i = 0; i < 32; ++i) {
    const int v = hex_value(hex[i]);
    if (v < 0) return std::nullopt;
    std::uint64_t& half = i < 16 ? id.hi : id.lo;
    half = (half << 4) | static_cast<std::uint64_t>(v);
  }
  return id;
}

std::string session_id::prefix() const {
  static constexpr char k_digits[] = "0123456789abcdef";
  std::string out(8, '0');
  // The top 32 bits of hi are the first 8 characters; nothing else is ever formatted.
  for (int i = 0; i < 8; ++i) out[i] = k_digits[(hi >> (60 - 4 * i)) & 0xf];
  return out;
}

}  // namespace zp::proxy
