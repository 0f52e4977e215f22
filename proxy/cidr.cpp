#include "proxy/cidr.hpp"

#include <charconv>

namespace zp::proxy {
namespace {

// Keeps the first `prefix` bits of `bytes`.
void mask(std::array<unsigned char, 16>& bytes, unsigned prefix) {
  for (unsigned i = 0; i < bytes.size(); ++i) {
    const unsigned keep = prefix > i * 8 ? prefix - i * 8 : 0;
    if (keep < 8) bytes[i] &= static_cast<unsigned char>(0xff00u >> keep);
  }
}

}  // namespace

std::optional<cidr> cidr::parse(std::string_view text) {
  const auto slash = text.find('/');
  std::error_code ec;
  const auto address = asio::ip::make_address(std::string(text.substr(0, slash)), ec);
  if (ec) return std::nullopt;
  cidr out;
  out.v4_ = address.is_v4();
  const unsigned bits = out.v4_ ? 32 : 128;
  out.prefix_ = bits;
  if (slash != std::string_view::npos) {
    const std::string_view p = text.substr(slash + 1);
    const auto [end, perr] = std::from_chars(p.data(), p.data() + p.size(), out.prefix_);
    if (perr != std::errc() || end != p.data() + p.size() || p.empty() || out.prefix_ > bits) return std::nullopt;
  }
  if (out.v4_) {
    const auto b = address.to_v4().to_bytes();
    std::copy(b.begin(), b.end(), out.bytes_.begin());
  } else {
    out.bytes_ = address.to_v6().to_bytes();
  }
  mask(out.bytes_, out.prefix_);
  return out;
}

bool cidr::contains(const asio::ip::address& a) const {
  std::array<unsigned char, 16> bytes{};
  if (a.is_v4() || (a.is_v6() && a.to_v6().is_v4_mapped())) {
    if (!v4_) return false;
    const auto b =
        a.is_v4() ? a.to_v4().to_bytes() : asio::ip::make_address_v4(asio::ip::v4_mapped, a.to_v6()).to_bytes();
    std::copy(b.begin(), b.end(), bytes.begin());
  } else {
    if (v4_) return false;
    bytes = a.to_v6().to_bytes();
  }
  mask(bytes, prefix_);
  return bytes == bytes_;
}

std::string cidr::to_string() const {
  std::string address;
  if (v4_) {
    address = asio::ip::address_v4({bytes_[0], bytes_[1], bytes_[2], bytes_[3]}).to_string();
  } else {
    address = asio::ip::address_v6(bytes_).to_string();
  }
  return address + "/" + std::to_string(prefix_);
}

}  // namespace zp::proxy
