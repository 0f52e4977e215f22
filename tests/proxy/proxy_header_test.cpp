// PROTOCOL.md 3.7: the PROXY v2 header a trusted balancer sends before TLS, and the CIDR
// ranges that say which peers are balancers.

#include "proxy/proxy_header.hpp"
#include "proxy/cidr.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace zp::proxy {
namespace {

using kind = proxy_header_verdict::kind;
using bytes = std::vector<std::uint8_t>;

const bytes k_sig = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A};

// A header: command byte, family byte, then `body` (addresses and TLVs).
bytes header(std::uint8_t command, std::uint8_t family, const bytes& body) {
  bytes h = k_sig;
  h.push_back(command);
  h.push_back(family);
  h.push_back(static_cast<std::uint8_t>(body.size() >> 8));
  h.push_back(static_cast<std::uint8_t>(body.size() & 0xff));
  h.insert(h.end(), body.begin(), body.end());
  return h;
}

TEST(ProxyHeader, Tcp4GivesTheClientAddressAndPort) {
  // 203.0.113.7:51000 -> 192.0.2.1:17486, then a TLV (skipped).
  const bytes h = header(0x21, 0x11, {203, 0, 113, 7, 192, 0, 2, 1, 0xC7, 0x38, 0x44, 0x4E, 0x04, 0x00, 0x01, 0x00});
  const auto v = parse_proxy_header(h);
  EXPECT_EQ(v.what, kind::proxied);
  EXPECT_EQ(v.size, h.size());
  EXPECT_EQ(v.source.address().to_string(), "203.0.113.7");
  EXPECT_EQ(v.source.port(), 51000);
}

TEST(ProxyHeader, Tcp6GivesTheClientAddress) {
  bytes body(36, 0);
  body[0] = 0x20, body[1] = 0x01, body[2] = 0x0d, body[3] = 0xb8, body[15] = 0x09;  // 2001:db8::9
  body[32] = 0x01, body[33] = 0xBB;                                                 // port 443
  const auto v = parse_proxy_header(header(0x21, 0x21, body));
  EXPECT_EQ(v.what, kind::proxied);
  EXPECT_EQ(v.source.address().to_string(), "2001:db8::9");
  EXPECT_EQ(v.source.port(), 443);
}

TEST(ProxyHeader, LocalAndAddresslessFamiliesMeanTheBalancerItself) {
  EXPECT_EQ(parse_proxy_header(header(0x20, 0x00, {})).what, kind::local);
  EXPECT_EQ(parse_proxy_header(header(0x20, 0x11, bytes(12, 1))).what, kind::local) << "LOCAL ignores addresses";
  EXPECT_EQ(parse_proxy_header(header(0x21, 0x00, {})).what, kind::local) << "UNSPEC";
  EXPECT_EQ(parse_proxy_header(header(0x21, 0x31, bytes(216, 0))).what, kind::local) << "a UNIX socket";
}

TEST(ProxyHeader, AsksForExactlyTheBytesOfTheHeaderAndNoMore) {
  const bytes h = header(0x21, 0x11, bytes(12, 9));
  for (std::size_t n = 0; n < h.size(); ++n) {
    const auto v = parse_proxy_header(std::span(h.data(), n));
    ASSERT_EQ(v.what, kind::need_more) << n;
    ASSERT_LE(v.size, h.size()) << "asked past the header at " << n;
    ASSERT_GT(v.size, n) << n;
  }
}

TEST(ProxyHeader, RefusesWhatIsNotAV2HeaderAsSoonAsItShows) {
  EXPECT_EQ(parse_proxy_header(bytes{0x16}).what, kind::invalid) << "a TLS ClientHello";
  EXPECT_EQ(parse_proxy_header(bytes{'P', 'R', 'O', 'X', 'Y'}).what, kind::invalid) << "PROXY v1 text";
  bytes v1_version = header(0x11, 0x11, bytes(12, 0));
  EXPECT_EQ(parse_proxy_header(v1_version).what, kind::invalid) << "version 1 in the binary form";
  EXPECT_EQ(parse_proxy_header(header(0x22, 0x11, bytes(12, 0))).what, kind::invalid) << "an unknown command";
  EXPECT_EQ(parse_proxy_header(header(0x21, 0x11, bytes(11, 0))).what, kind::invalid) << "addresses cut short";
  EXPECT_EQ(parse_proxy_header(header(0x21, 0x21, bytes(35, 0))).what, kind::invalid);
}

TEST(ProxyHeader, RefusesAHeaderOver536BytesBeforeReadingIt) {
  bytes fixed = header(0x21, 0x11, {});
  fixed[14] = 0x02, fixed[15] = 0x09;  // 521 bytes of body: 537 in all
  EXPECT_EQ(parse_proxy_header(fixed).what, kind::invalid);
  fixed[15] = 0x08;  // 520: 536 in all, the largest allowed
  EXPECT_EQ(parse_proxy_header(fixed).what, kind::need_more);
  EXPECT_EQ(parse_proxy_header(fixed).size, 536u);
}

TEST(Cidr, ParsesMatchesAndPrintsCanonically) {
  auto r = cidr::parse("10.1.2.3/8");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->to_string(), "10.0.0.0/8");
  EXPECT_TRUE(r->contains(asio::ip::make_address("10.200.0.1")));
  EXPECT_FALSE(r->contains(asio::ip::make_address("11.0.0.1")));
  EXPECT_TRUE(r->contains(asio::ip::make_address("::ffff:10.9.9.9"))) << "IPv4-mapped, from a dual-stack listener";
  EXPECT_FALSE(r->contains(asio::ip::make_address("2001:db8::1")));
  auto one = cidr::parse("192.0.2.5");
  ASSERT_TRUE(one);
  EXPECT_EQ(one->to_string(), "192.0.2.5/32");
  EXPECT_FALSE(one->contains(asio::ip::make_address("192.0.2.6")));
  auto v6 = cidr::parse("2001:db8::/32");
  ASSERT_TRUE(v6);
  EXPECT_TRUE(v6->contains(asio::ip::make_address("2001:db8:ffff::1")));
  EXPECT_FALSE(v6->contains(asio::ip::make_address("10.0.0.1")));
  auto all = cidr::parse("0.0.0.0/0");
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->contains(asio::ip::make_address("8.8.8.8")));
  for (const char* bad :
       {"", "10.0.0.0/33", "10.0.0.0/", "10.0.0.0/-1", "10.0.0.0/8x", "host/8", "::/129", "1.2.3/8"}) {
    EXPECT_FALSE(cidr::parse(bad)) << bad;
  }
}

}  // namespace
}  // namespace zp::proxy
