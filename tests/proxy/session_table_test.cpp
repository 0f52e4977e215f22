// Session table semantics (PROTOCOL.md 3.3/3.4), one behaviour per test, plus the two
// targeted races: opposite halves at the same instant pair, same-role halves at the
// same instant give one waiter and one conflict.
#include "proxy/session_table.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <iostream>
#include <random>
#include <thread>
#include <vector>

namespace zp::proxy {
namespace {

using table = session_table<int>;
using outcome = table::outcome;

session_id make_id(std::uint64_t n) {
  // Spread the bits like real random ids (a counter would be too kind to the hash).
  std::seed_seq seq{static_cast<std::uint32_t>(n), static_cast<std::uint32_t>(n >> 32), 7u};
  std::mt19937_64 gen(seq);
  return session_id{gen(), gen()};
}

// Distinct non-null half pointers without owning anything.
struct fake_halves {
  std::vector<int> storage = std::vector<int>(64);
  table::half operator[](std::size_t i) { return &storage.at(i); }
};

TEST(SessionId, ParseAcceptsThirtyTwoLowercaseHexDigits) {
  const auto id = session_id::parse("0123456789abcdef00112233445566ff");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->hi, 0x0123456789abcdefULL);
  EXPECT_EQ(id->lo, 0x00112233445566ffULL);
}

TEST(SessionId, ParseRejectsWrongLengthUppercaseAndNonHex) {
  EXPECT_FALSE(session_id::parse(""));
  EXPECT_FALSE(session_id::parse("0123456789abcdef0011223344556677a"));  // 33
  EXPECT_FALSE(session_id::parse("0123456789abcdef001122334455667"));    // 31
  EXPECT_FALSE(session_id::parse("0123456789ABCDEF0011223344556677"));   // uppercase
  EXPECT_FALSE(session_id::parse("0123456789abcdeg0011223344556677"));   // g
  EXPECT_FALSE(session_id::parse("0123456789abcdef 011223344556677"));   // space
  EXPECT_FALSE(
      session_id::parse(std::string_view("0123456789abcdef\0"
                                         "011223344556677",
                                         32)));
}

TEST(SessionId, PrefixIsTheFirstEightCharacters) {
  const auto id = session_id::parse("deadbeef0123456789abcdef01234567");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->prefix(), "deadbeef");
  EXPECT_EQ(session_id{}.prefix(), "00000000");
}

TEST(SessionId, OppositeSwapsRoles) {
  EXPECT_EQ(opposite(role::endpoint), role::module_server);
  EXPECT_EQ(opposite(role::module_server), role::endpoint);
}

TEST(SessionTable, FirstHalfWaits) {
  table table(16);
  fake_halves h;
  const auto r = table.arrive(make_id(1), role::endpoint, h[0]);
  EXPECT_EQ(r.what, outcome::waiting);
  EXPECT_EQ(r.peer, nullptr);
  EXPECT_EQ(table.waiting(role::endpoint), 1u);
  EXPECT_EQ(table.waiting(role::module_server), 0u);
}

TEST(SessionTable, OppositeHalfPairsAndGetsTheWaitingHalf) {
  table table(16);
  fake_halves h;
  ASSERT_EQ(table.arrive(make_id(1), role::endpoint, h[0]).what, outcome::waiting);
  const auto r = table.arrive(make_id(1), role::module_server, h[1]);
  EXPECT_EQ(r.what, outcome::paired);
  EXPECT_EQ(r.peer, h[0]);
  EXPECT_EQ(table.waiting(role::endpoint), 0u);
  EXPECT_EQ(table.waiting(role::module_server), 0u);
}

TEST(SessionTable, ModuleServerMayArriveFirst) {
  table table(16);
  fake_halves h;
  ASSERT_EQ(table.arrive(make_id(2), role::module_server, h[0]).what, outcome::waiting);
  EXPECT_EQ(table.waiting(role::module_server), 1u);
  const auto r = table.arrive(make_id(2), role::endpoint, h[1]);
  EXPECT_EQ(r.what, outcome::paired);
  EXPECT_EQ(r.peer, h[0]);
}

TEST(SessionTable, SameRoleConflictsAndLeavesTheWaitingHalfUndisturbed) {
  table table(16);
  fake_halves h;
  ASSERT_EQ(table.arrive(make_id(3), role::endpoint, h[0]).what, outcome::waiting);
  const auto r = table.arrive(make_id(3), role::endpoint, h[1]);
  EXPECT_EQ(r.what, outcome::conflict);
  EXPECT_EQ(r.peer, nullptr);
  EXPECT_EQ(table.waiting(role::endpoint), 1u);
  const auto p = table.arrive(make_id(3), role::module_server, h[2]);
  EXPECT_EQ(p.what, outcome::paired);
  EXPECT_EQ(p.peer, h[0]);
}

TEST(SessionTable, PairedIdLeavesTheTable) {
  table table(16);
  fake_halves h;
  ASSERT_EQ(table.arrive(make_id(4), role::endpoint, h[0]).what, outcome::waiting);
  ASSERT_EQ(table.arrive(make_id(4), role::module_server, h[1]).what, outcome::paired);
  // A third half under the same id starts a new wait rather than conflicting.
  EXPECT_EQ(table.arrive(make_id(4), role::module_server, h[2]).what, outcome::waiting);
}

TEST(SessionTable, CancelOfAWaitingHalfRemovesIt) {
  table table(16);
  fake_halves h;
  ASSERT_EQ(table.arrive(make_id(5), role::endpoint, h[0]).what, outcome::waiting);
  EXPECT_TRUE(table.cancel(make_id(5), role::endpoint, h[0]));
  EXPECT_EQ(table.waiting(role::endpoint), 0u);
  // PROTOCOL.md 3.3: a later opposite half waits instead of pairing with a dead one.
  EXPECT_EQ(table.arrive(make_id(5), role::module_server, h[1]).what, outcome::waiting);
  EXPECT_FALSE(table.cancel(make_id(5), role::endpoint, h[0]));  // already gone
}

TEST(SessionTable, CancelAfterClaimReturnsFalse) {
  table table(16);
  fake_halves h;
  ASSERT_EQ(table.arrive(make_id(6), role::endpoint, h[0]).what, outcome::waiting);
  ASSERT_EQ(table.arrive(make_id(6), role::module_server, h[1]).what, outcome::paired);
  EXPECT_FALSE(table.cancel(make_id(6), role::endpoint, h[0]));
}

TEST(SessionTable, CancelLeavesAnotherOwnersHalfAlone) {
  table table(16);
  fake_halves h;
  ASSERT_EQ(table.arrive(make_id(7), role::endpoint, h[0]).what, outcome::waiting);
  EXPECT_FALSE(table.cancel(make_id(7), role::endpoint, h[1]));       // not its half
  EXPECT_FALSE(table.cancel(make_id(7), role::module_server, h[0]));  // wrong role
  EXPECT_FALSE(table.cancel(make_id(8), role::endpoint, h[0]));       // wrong id
  EXPECT_EQ(table.waiting(role::endpoint), 1u);
  EXPECT_TRUE(table.cancel(make_id(7), role::endpoint, h[0]));
}

TEST(SessionTable, FullWhenMaxPendingHalvesWait) {
  table table(4);
  EXPECT_EQ(table.max_pending(), 4u);
  fake_halves h;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(table.arrive(make_id(100 + i), i % 2 ? role::endpoint : role::module_server, h[i]).what,
              outcome::waiting);
  }
  EXPECT_EQ(table.arrive(make_id(200), role::endpoint, h[10]).what, outcome::full);
  EXPECT_EQ(table.waiting(role::endpoint) + table.waiting(role::module_server), 4u);
  // A cancel frees room for exactly one more.
  ASSERT_TRUE(table.cancel(make_id(100), role::module_server, h[0]));
  EXPECT_EQ(table.arrive(make_id(200), role::endpoint, h[10]).what, outcome::waiting);
  EXPECT_EQ(table.arrive(make_id(201), role::endpoint, h[11]).what, outcome::full);
}

TEST(SessionTable, CapacityIsExactAcrossThreads) {
  // Each thread draws credits from its own stripe first, then from the others; once
  // all calls have returned, exactly max_pending halves fit, whoever stores them and
  // whoever removes them.
  constexpr std::size_t k_n = 1000;
  table table(k_n);
  std::vector<int> halves(k_n + 1);
  std::size_t next = 0;
  auto fill = [&](std::size_t count) {
    std::thread t([&] {
      for (std::size_t i = 0; i < count; ++i, ++next) {
        ASSERT_EQ(table.arrive(make_id(next), role::endpoint, &halves[next]).what, outcome::waiting);
      }
    });
    t.join();
  };
  fill(700);
  fill(300);
  std::thread([&] { EXPECT_EQ(table.arrive(make_id(k_n), role::endpoint, &halves[k_n]).what, outcome::full); }).join();
  // Remove from other threads (credits land on their stripes), then refill from a fourth.
  std::thread([&] {
    for (std::size_t i = 0; i < 500; ++i) ASSERT_TRUE(table.cancel(make_id(i), role::endpoint, &halves[i]));
  }).join();
  std::thread([&] {
    for (std::size_t i = 500; i < k_n; ++i) {
      ASSERT_EQ(table.arrive(make_id(i), role::module_server, &halves[0]).what, outcome::paired);
    }
  }).join();
  EXPECT_EQ(table.waiting(role::endpoint), 0u);
  next = 0;
  fill(k_n);
  EXPECT_EQ(table.arrive(make_id(k_n), role::endpoint, &halves[k_n]).what, outcome::full);
  EXPECT_EQ(table.waiting(role::endpoint), k_n);
}

TEST(SessionTable, FullRefusesEvenAHalfWhosePeerWaits) {
  // PROTOCOL.md 3.4: 503 while max_pending halves wait; the waiting peer keeps waiting.
  table table(2);
  fake_halves h;
  ASSERT_EQ(table.arrive(make_id(1), role::endpoint, h[0]).what, outcome::waiting);
  ASSERT_EQ(table.arrive(make_id(2), role::endpoint, h[1]).what, outcome::waiting);
  EXPECT_EQ(table.arrive(make_id(1), role::module_server, h[2]).what, outcome::full);
  EXPECT_EQ(table.waiting(role::endpoint), 2u);
  ASSERT_TRUE(table.cancel(make_id(2), role::endpoint, h[1]));
  const auto r = table.arrive(make_id(1), role::module_server, h[2]);
  EXPECT_EQ(r.what, outcome::paired);
  EXPECT_EQ(r.peer, h[0]);
}

TEST(SessionTable, ZeroCapacityRefusesEverything) {
  table table(0);
  fake_halves h;
  EXPECT_EQ(table.arrive(make_id(1), role::endpoint, h[0]).what, outcome::full);
  EXPECT_EQ(table.waiting(role::endpoint), 0u);
}

TEST(SessionTable, WaitingCountsByRole) {
  table table(64);
  fake_halves h;
  for (int i = 0; i < 5; ++i) table.arrive(make_id(300 + i), role::endpoint, h[i]);
  for (int i = 0; i < 3; ++i) table.arrive(make_id(400 + i), role::module_server, h[10 + i]);
  EXPECT_EQ(table.waiting(role::endpoint), 5u);
  EXPECT_EQ(table.waiting(role::module_server), 3u);
  table.arrive(make_id(300), role::module_server, h[20]);  // pairs: one endpoint fewer
  table.cancel(make_id(400), role::module_server, h[10]);
  EXPECT_EQ(table.waiting(role::endpoint), 4u);
  EXPECT_EQ(table.waiting(role::module_server), 2u);
}

TEST(SessionTable, FillsToCapacityInASmallArray) {
  // Small capacity means a small array (64 positions for 31 halves): every window
  // overlaps every other, so this exercises probing past foreign records. One below
  // capacity, so the conflict and pair probes are not refused as full.
  constexpr std::size_t k_n = 31;
  table table(k_n + 1);
  std::vector<int> halves(k_n);
  for (std::size_t i = 0; i < k_n; ++i) {
    ASSERT_EQ(table.arrive(make_id(500 + i), role::endpoint, &halves[i]).what, outcome::waiting) << i;
  }
  for (std::size_t i = 0; i < k_n; ++i) {
    EXPECT_EQ(table.arrive(make_id(500 + i), role::endpoint, &halves[0]).what, outcome::conflict);
  }
  for (std::size_t i = 0; i < k_n; ++i) {
    const auto r = table.arrive(make_id(500 + i), role::module_server, &halves[0]);
    ASSERT_EQ(r.what, outcome::paired);
    EXPECT_EQ(r.peer, &halves[i]);
  }
  EXPECT_EQ(table.waiting(role::endpoint), 0u);
}

TEST(SessionTable, ChurnNeverDegradesIntoFull) {
  // Removal frees positions outright (no tombstones), so a nearly full table keeps
  // accepting under endless churn. Ids are never reused, like real sessions.
  constexpr std::size_t k_n = 64;
  table table(k_n);
  std::vector<int> halves(k_n);
  std::vector<session_id> live(k_n);
  for (std::size_t i = 0; i < k_n - 1; ++i) {
    live[i] = make_id(1'000'000 + i);
    ASSERT_EQ(table.arrive(live[i], role::endpoint, &halves[i]).what, outcome::waiting);
  }
  std::mt19937_64 gen(42);
  std::uint64_t next = 0;
  for (int round = 0; round < 200'000; ++round) {
    const std::size_t i = gen() % (k_n - 1);
    if (round % 2 == 0) {
      ASSERT_TRUE(table.cancel(live[i], role::endpoint, &halves[i]));
    } else {
      const auto r = table.arrive(live[i], role::module_server, &halves[k_n - 1]);
      ASSERT_EQ(r.what, outcome::paired);
      ASSERT_EQ(r.peer, &halves[i]);
    }
    live[i] = session_id{gen(), ++next};
    ASSERT_EQ(table.arrive(live[i], role::endpoint, &halves[i]).what, outcome::waiting) << round;
  }
  EXPECT_EQ(table.waiting(role::endpoint), k_n - 1);
}

// Two threads meet at a spin barrier, then act at once. No sleeps: the barrier is a
// generation counter both threads spin on.
class spin_barrier {
 public:
  void arrive_and_wait() {
    const unsigned gen = generation_.load(std::memory_order_acquire);
    if (count_.fetch_add(1, std::memory_order_acq_rel) == 1) {
      count_.store(0, std::memory_order_relaxed);
      generation_.store(gen + 1, std::memory_order_release);
      return;
    }
    while (generation_.load(std::memory_order_acquire) == gen) std::this_thread::yield();
  }

 private:
  std::atomic<unsigned> count_{0};
  std::atomic<unsigned> generation_{0};
};

// Busy-waits about n * a few nanoseconds (no sleeping: the point is to be on-CPU).
void spin(int n) {
  std::atomic<int> sink{0};
  for (; n > 0; --n) sink.fetch_add(1, std::memory_order_relaxed);
}

// The thread that completes the barrier leaves it first, so without help one side
// would nearly always win. A random spin of 0..63 iterations on each side after the
// barrier sweeps the two threads across each other's critical instructions.
void jitter(std::mt19937& rng) { spin(static_cast<int>(rng() % 64)); }

// Runs `rounds` rounds of: both threads arrive with their role at the same instant,
// then thread 0 checks both results (after a second barrier) and cleans up.
template <typename Check>
void race_rounds(int rounds, role role0, role role1, Check check) {
  table table(8);
  int half0 = 0, half1 = 0;
  table::arrive_result results[2];
  spin_barrier barrier;
  auto body = [&](int self) {
    std::mt19937 rng(self + 1);
    for (int round = 0; round < rounds; ++round) {
      barrier.arrive_and_wait();
      jitter(rng);
      const session_id id{0x5e55, static_cast<std::uint64_t>(round)};
      results[self] = table.arrive(id, self == 0 ? role0 : role1, self == 0 ? &half0 : &half1);
      barrier.arrive_and_wait();
      if (self == 0) check(table, id, results[0], results[1], &half0, &half1);
    }
  };
  std::thread other(body, 1);
  body(0);
  other.join();
  EXPECT_EQ(table.waiting(role::endpoint), 0u);
  EXPECT_EQ(table.waiting(role::module_server), 0u);
}

// Enough rounds that both orders of every race show up many times, even under TSan.
constexpr int k_race_rounds = 20'000;

TEST(SessionTableRace, OppositeHalvesAtTheSameInstantPair) {
  race_rounds(
      k_race_rounds, role::endpoint, role::module_server,
      [](table& table, const session_id& id, const auto& r0, const auto& r1, int* h0, int* h1) {
        // Exactly one pairs and gets the other, which waited and was claimed.
        const bool zero_paired = r0.what == outcome::paired;
        ASSERT_NE(zero_paired, r1.what == outcome::paired);
        const auto& paired = zero_paired ? r0 : r1;
        const auto& waited = zero_paired ? r1 : r0;
        ASSERT_EQ(waited.what, outcome::waiting);
        ASSERT_EQ(paired.peer, zero_paired ? h1 : h0);
        // The claimed half can no longer be cancelled by its owner.
        ASSERT_FALSE(table.cancel(id, zero_paired ? role::module_server : role::endpoint, zero_paired ? h1 : h0));
      });
}

TEST(SessionTableRace, SameRoleAtTheSameInstantGivesOneWaiterAndOneConflict) {
  race_rounds(k_race_rounds, role::module_server, role::module_server,
              [](table& table, const session_id& id, const auto& r0, const auto& r1, int* h0, int* h1) {
                const bool zero_waits = r0.what == outcome::waiting;
                ASSERT_EQ(zero_waits ? r1.what : r0.what, outcome::conflict);
                ASSERT_TRUE(zero_waits || r1.what == outcome::waiting);
                ASSERT_TRUE(table.cancel(id, role::module_server, zero_waits ? h0 : h1));
              });
}

TEST(SessionTableRace, CancelRacingAClaimHasExactlyOneWinner) {
  table table(8);
  int owner_half = 0, peer_half = 0;
  spin_barrier barrier;
  bool cancelled = false;
  table::arrive_result claim{};
  int claims = 0, cancels = 0;
  // Which side wins depends on scheduling, which can favour one thread for a whole run.
  // So the side that won last round is held back a little more next round: the two
  // settle where they collide, and both outcomes keep happening. Written by thread 0
  // between the barriers, read by both after the first one.
  std::atomic<int> cancel_delay{0};
  auto body = [&](int self) {
    std::mt19937 rng(self + 1);
    for (int round = 0; round < k_race_rounds; ++round) {
      const session_id id{0xca11, static_cast<std::uint64_t>(round)};
      // EXPECT, not ASSERT, inside the threads: an early return would strand the other
      // thread at the barrier.
      if (self == 0) {
        EXPECT_EQ(table.arrive(id, role::endpoint, &owner_half).what, outcome::waiting);
      }
      barrier.arrive_and_wait();
      const int delay = cancel_delay.load(std::memory_order_relaxed);
      spin(self == 0 ? delay : -delay);
      jitter(rng);
      if (self == 0) {
        cancelled = table.cancel(id, role::endpoint, &owner_half);
      } else {
        claim = table.arrive(id, role::module_server, &peer_half);
      }
      barrier.arrive_and_wait();
      if (self == 0) {
        const int delay = cancel_delay.load(std::memory_order_relaxed);
        cancel_delay.store(std::clamp(delay + (cancelled ? 4 : -4), -100'000, 100'000), std::memory_order_relaxed);
        if (cancelled) {
          ++cancels;
          // Cancelled first: the peer found nobody and now waits itself.
          EXPECT_EQ(claim.what, outcome::waiting);
          EXPECT_TRUE(table.cancel(id, role::module_server, &peer_half));
        } else {
          ++claims;
          EXPECT_EQ(claim.what, outcome::paired);
          EXPECT_EQ(claim.peer, &owner_half);
        }
      }
    }
  };
  std::thread other(body, 1);
  body(0);
  other.join();
  std::cout << "claim won " << claims << " times, cancel won " << cancels << " times" << std::endl;
  EXPECT_EQ(claims + cancels, k_race_rounds);
  EXPECT_EQ(table.waiting(role::endpoint) + table.waiting(role::module_server), 0u);
}

}  // namespace
}  // namespace zp::proxy
