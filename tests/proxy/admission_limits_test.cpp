// admission_limits as a pure unit (PROTOCOL.md 3.6): per source, in total, the
// descriptor reserve, a balancer's connections counted once their PROXY header names the
// client, early data; each limit as set now, up and down. The process tests
// (tests/hostile/admission_test.cpp) show the same limits on the wire.

#include "proxy/admission.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace zp::proxy {
namespace {

using verdict = admission_limits::verdict;

asio::ip::address ip(const char* text) { return asio::ip::make_address(text); }

// The connections the process holds, as a test sets them.
std::uint64_t g_open = 0;
std::uint64_t open_now() { return g_open; }

class AdmissionLimits : public ::testing::Test {
 protected:
  void SetUp() override { g_open = 0; }
  verdict admit(const char* source, bool per_source = true) {
    admission_limits::ticket t;
    const verdict v = limits_.admit(ip(source), settings_, t, per_source);
    if (v == verdict::admitted || v == verdict::admitted_in_reserve) held_.push_back(std::move(t));
    return v;
  }

  admission_limits limits_{&open_now};
  session_settings settings_;
  std::vector<admission_limits::ticket> held_;
};

TEST_F(AdmissionLimits, PerSourceLimitCountsAnIpv4AddressOrAnIpv6Slash64) {
  settings_.max_admitting_per_source = 2;
  EXPECT_EQ(admit("192.0.2.1"), verdict::admitted);
  EXPECT_EQ(admit("192.0.2.1"), verdict::admitted);
  EXPECT_EQ(admit("192.0.2.1"), verdict::refused_per_source);
  EXPECT_EQ(admit("::ffff:192.0.2.1"), verdict::refused_per_source) << "an IPv4-mapped address is that IPv4 source";
  EXPECT_EQ(admit("192.0.2.2"), verdict::admitted) << "another source has its own share";
  EXPECT_EQ(admit("2001:db8:1:2::1"), verdict::admitted);
  EXPECT_EQ(admit("2001:db8:1:2:ffff::9"), verdict::admitted);
  EXPECT_EQ(admit("2001:db8:1:2::77"), verdict::refused_per_source) << "one IPv6 /64 is one source";
  EXPECT_EQ(admit("2001:db8:1:3::1"), verdict::admitted);
  EXPECT_EQ(limits_.admitting(), 6u) << "refusals hold nothing";
}

TEST_F(AdmissionLimits, ATicketGivesItsSlotsBackWhenReleasedOrDestroyed) {
  settings_.max_admitting_per_source = 1;
  EXPECT_EQ(admit("192.0.2.1"), verdict::admitted);
  EXPECT_EQ(admit("192.0.2.1"), verdict::refused_per_source);
  held_.front().release();
  EXPECT_EQ(limits_.admitting(), 0u);
  EXPECT_EQ(admit("192.0.2.1"), verdict::admitted);
  held_.clear();
  EXPECT_EQ(limits_.admitting(), 0u);
  EXPECT_EQ(admit("192.0.2.1"), verdict::admitted);
  // Moved, a ticket still gives back exactly once.
  admission_limits::ticket moved = std::move(held_.back());
  held_.clear();
  EXPECT_EQ(limits_.admitting(), 1u);
  moved = admission_limits::ticket();
  EXPECT_EQ(limits_.admitting(), 0u);
}

TEST_F(AdmissionLimits, TheTotalLimitAppliesAsSetNowUpAndDown) {
  settings_.max_admitting = 3;
  EXPECT_EQ(admit("192.0.2.1"), verdict::admitted);
  EXPECT_EQ(admit("192.0.2.2"), verdict::admitted);
  EXPECT_EQ(admit("192.0.2.3"), verdict::admitted);
  EXPECT_EQ(admit("192.0.2.4"), verdict::refused_total);
  settings_.max_admitting = 2;  // lowered below what is admitting: nobody is closed
  EXPECT_EQ(limits_.admitting(), 3u);
  held_.pop_back();
  EXPECT_EQ(admit("192.0.2.4"), verdict::refused_total) << "still at the lowered limit";
  held_.pop_back();
  EXPECT_EQ(admit("192.0.2.4"), verdict::admitted);
  settings_.max_admitting = 10;
  EXPECT_EQ(admit("192.0.2.5"), verdict::admitted) << "raised: room at once";
}

// PROTOCOL.md 3.6: a reserve of max(64, 1 % of the limit); the lower half of it admits
// second halves only, the upper half is 17488's.
TEST_F(AdmissionLimits, TheDescriptorReserveHasALowerHalfForSecondHalvesAndAnUpperOneForTheApi) {
  limits_.set_fd_budget(1000, 10);  // reserve 64: in it from 936 in use, its upper half from 968
  EXPECT_EQ(limits_.fd_reserve(), 64u);
  g_open = 900;  // 910 in use, +1 for the one just accepted
  EXPECT_EQ(admit("192.0.2.1"), verdict::admitted);
  g_open = 925;  // 936
  EXPECT_EQ(admit("192.0.2.1"), verdict::admitted_in_reserve);
  g_open = 956;  // 967
  EXPECT_EQ(admit("192.0.2.1"), verdict::admitted_in_reserve);
  g_open = 957;  // 968
  EXPECT_EQ(admit("192.0.2.1"), verdict::refused_fd_reserve);
  EXPECT_EQ(limits_.admitting(), 3u);
  limits_.set_fd_budget(100000, 10);
  EXPECT_EQ(limits_.fd_reserve(), 1000u) << "1 % of a large limit";
}

TEST_F(AdmissionLimits, ABalancersConnectionCountsForTheClientItNames) {
  settings_.max_admitting_per_source = 1;
  admission_limits::ticket a, b;
  ASSERT_EQ(limits_.admit(ip("10.0.0.5"), settings_, a, /*per_source=*/false), verdict::admitted);
  ASSERT_EQ(limits_.admit(ip("10.0.0.5"), settings_, b, /*per_source=*/false), verdict::admitted)
      << "the balancer itself is not limited per source";
  EXPECT_TRUE(limits_.attach_source(ip("198.51.100.7"), settings_, a));
  EXPECT_FALSE(limits_.attach_source(ip("198.51.100.7"), settings_, b)) << "that client holds its share";
  EXPECT_TRUE(limits_.attach_source(ip("198.51.100.8"), settings_, b));
  EXPECT_EQ(admit("198.51.100.7"), verdict::refused_per_source);
}

TEST_F(AdmissionLimits, EarlyDataStopsBeingReadAtItsLimit) {
  settings_.max_early_data_bytes = 1000;
  EXPECT_TRUE(limits_.early_data_room(settings_));
  limits_.hold_early_data(999);
  EXPECT_TRUE(limits_.early_data_room(settings_));
  limits_.hold_early_data(1);
  EXPECT_FALSE(limits_.early_data_room(settings_));
  limits_.drop_early_data(500);
  EXPECT_TRUE(limits_.early_data_room(settings_));
  EXPECT_EQ(limits_.early_data_bytes(), 500u);
}

}  // namespace
}  // namespace zp::proxy
