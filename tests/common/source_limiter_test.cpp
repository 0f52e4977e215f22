// The per-source count behind PROTOCOL.md 3.4's 429: a limit per address, IPv4 and
// IPv4-mapped IPv6 as one source, and slots that give themselves back.

#include "common/source_limiter.hpp"

#include <gtest/gtest.h>

namespace zp {
namespace {

const auto k_a = asio::ip::make_address("192.0.2.1");
const auto k_b = asio::ip::make_address("192.0.2.2");

TEST(SourceLimiter, RefusesTheSlotPastTheLimitAndOnlyForThatSource) {
  source_limiter l;
  EXPECT_TRUE(l.acquire(k_a, 2));
  EXPECT_TRUE(l.acquire(k_a, 2));
  EXPECT_FALSE(l.acquire(k_a, 2));
  EXPECT_TRUE(l.acquire(k_b, 2));
  EXPECT_EQ(l.held(k_a), 2u);
  l.release(k_a);
  EXPECT_TRUE(l.acquire(k_a, 2));
}

TEST(SourceLimiter, Ipv4AndItsMappedIpv6FormAreOneSource) {
  source_limiter l;
  EXPECT_TRUE(l.acquire(k_a, 1));
  EXPECT_FALSE(l.acquire(asio::ip::make_address("::ffff:192.0.2.1"), 1));
}

TEST(SourceLimiter, AnIpv6SourceIsItsSlash64) {
  source_limiter l;
  EXPECT_TRUE(l.acquire(asio::ip::make_address("2001:db8:1:2::1"), 2));
  EXPECT_TRUE(l.acquire(asio::ip::make_address("2001:db8:1:2:ffff:ffff:ffff:ffff"), 2));
  EXPECT_FALSE(l.acquire(asio::ip::make_address("2001:db8:1:2:abcd::9"), 2)) << "same /64";
  EXPECT_TRUE(l.acquire(asio::ip::make_address("2001:db8:1:3::1"), 2)) << "next /64";
  EXPECT_EQ(l.sources(), 2u);
}

TEST(SourceLimiter, ALimitOfZeroRefusesEverythingAndKeepsNoEntry) {
  source_limiter l;
  EXPECT_FALSE(l.acquire(k_a, 0));
  EXPECT_EQ(l.held(k_a), 0u);
}

TEST(SourceLimiter, ASlotGivesItselfBackWhenDestroyedOrReleasedAndMovesOwnership) {
  source_limiter l;
  {
    source_slot s = l.try_acquire(k_a, 1);
    ASSERT_TRUE(s);
    EXPECT_FALSE(l.try_acquire(k_a, 1));
    source_slot moved = std::move(s);
    EXPECT_FALSE(s);
    EXPECT_EQ(l.held(k_a), 1u) << "a move transfers the slot, it does not add one";
  }
  EXPECT_EQ(l.held(k_a), 0u);
  source_slot s = l.try_acquire(k_a, 1);
  s.release();
  s.release();  // idempotent
  EXPECT_EQ(l.held(k_a), 0u);
}

}  // namespace
}  // namespace zp
