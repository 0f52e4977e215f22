// The rendezvous table (PROTOCOL.md 3.3, ARCHITECTURE.md "The path of one relayed
// byte", step 3): a lock-free map from a session id to the one half waiting under it.
//
// Design
// ------
// Storage is one array of `position`s (a cache line each), preallocated in the
// constructor: 2 * max_pending rounded up to a power of two, so at most about half of it
// is ever occupied. Nothing is allocated afterwards and nothing is freed while the table
// lives, so a thread may read any position at any time: records are owned by the array
// and named by index, and a stale view is detected by a version check, never followed
// into freed memory.
//
// * Home and window. An id hashes (absl::Hash of the id xor 128 random bits drawn per
//   table, so a client cannot choose colliding ids) to a home position h. Its record may
//   sit at any of the k_window = 32 positions h + i(i+1)/2, i < 32 (triangular probing:
//   distinct positions in a power-of-two array). No operation looks at more than 32
//   positions, whatever the churn, forever.
// * The home word (one per position) is {32-bit version, 32-bit bitmap}: bit i set means
//   "the record at window offset i is waiting and its id's home is h". The home word is
//   the single arbiter for the ids homed at h: inserting a record (setting its bit),
//   pairing with it or cancelling it (clearing its bit) are each one CAS of that word
//   from the snapshot the decision was based on, and every successful CAS bumps the
//   version (so a snapshot whose bitmap looks the same after records came and went still
//   fails: no ABA). Hence:
//   - two halves of one id can never both be stored: both CAS the same word, and the
//     loser rescans and finds the winner (it pairs with it, or gets `conflict`);
//   - a waiting half is removed exactly once: the claim and the cancel both CAS the word
//     from a snapshot holding its bit, so once one succeeds the other's snapshot is stale
//     and its rescan no longer finds the half;
//   - a removal clears the bit and frees the position at once. There are no tombstones,
//     so churn never lengthens probes.
// * Positions are shared between overlapping windows, so a position is taken by its own
//   CAS (free -> held) before its record is written, and only then published through the
//   home word. Nobody locks: an operation scans the records named by a snapshot of the
//   home word, then acts by a CAS from that snapshot (insert, claim, cancel) or re-reads
//   the word (a conflict, a cancel that finds nothing). If the word moved on, it rescans;
//   the word only moves when another operation succeeded, so arrive() and cancel() are
//   lock-free. If it did not, everything read belongs to the records the bits named (see
//   "R2" in the .cpp).
// * Capacity. max_pending credits are spread over k_stripes cache-line-padded counters.
//   A half that starts waiting takes a credit (its thread's stripe first, others only
//   when that one is empty); the thread that removes it returns the credit to its own
//   stripe. So no counter is shared by every operation, yet at most max_pending halves
//   ever wait (each holds a credit). `full` is exact when nothing else is in flight;
//   while another thread is between removing a half and returning its credit, or
//   between taking a batch of up to 32 credits from a foreign stripe and adding it to
//   its own (each a few instructions), an arrive may see `full` early by those credits.
//   waiting() sums the stripes (each also counts the waiting endpoint halves).
//
// Full is checked first, as PROTOCOL.md 3.4 says: while max_pending halves wait, every
// hello is refused (503), even one whose peer is waiting; that peer keeps waiting.
//
// Memory: 64 bytes per position, i.e. 128..256 bytes per unit of max_pending, on
// transparent huge pages when the kernel allows (random ids touch random lines).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "proxy/session_id.hpp"

namespace zp::proxy {

/// The lock-free table itself, over untyped pointers; use it through session_table<Half>,
/// which lets only one type of half in and so may hand the same type back out.
class session_table_core {
 public:
  /// Opaque non-null pointer owned by the caller (a waiting connection).
  using half = void*;

  /// Preallocates room for max_pending waiting halves (max_pending < 2^31).
  explicit session_table_core(std::size_t max_pending);
  /// Frees the storage; halves still waiting are the callers' to close.
  ~session_table_core();
  session_table_core(const session_table_core&) = delete;
  session_table_core& operator=(const session_table_core&) = delete;

  /// What arrive() did with the newcomer.
  enum class outcome { paired, waiting, conflict, full };

  /// arrive()'s result; `peer` is set only when paired, and the caller then owns it.
  struct arrive_result {
    outcome what;
    half peer = nullptr;
  };

  /// Pairs h with id's waiting opposite half (its owner's prior writes visible), or stores h, or refuses it.
  arrive_result arrive(const session_id& id, role r, half h);

  /// Removes h (stored by an earlier arrive()): true if gone for good, false if a peer claimed it first.
  bool cancel(const session_id& id, role r, half h);

  /// Number of halves of role r waiting; exact only when no operation is in flight.
  std::size_t waiting(role r) const;

  /// The capacity bound given to the constructor.
  std::size_t max_pending() const { return max_pending_; }

 private:
  static constexpr std::size_t k_cache_line = 64;
  static constexpr unsigned k_window = 32;   // probe offsets per home: bits in the home word
  static constexpr unsigned k_stripes = 16;  // capacity counters; a power of two

  // One cache line: the home word of the ids hashing here, and the record stored here,
  // which usually belongs to the same home, so a pair usually touches one line.
  struct alignas(k_cache_line) position {
    std::atomic<std::uint64_t> home{0};   // {version:32, bitmap:32}; see top of file
    std::atomic<std::uint32_t> state{0};  // free, or held by a record of a role
    std::atomic<std::uint64_t> id_hi{0};  // the record: written while held, before
    std::atomic<std::uint64_t> id_lo{0};  // its bit is published
    std::atomic<half> owner{nullptr};
  };

  // {waiting endpoints: int32, credits: uint32}: one word, so one RMW moves both.
  struct alignas(k_cache_line) stripe {
    std::atomic<std::uint64_t> word{0};
  };

  // A record named by the home word that carries the id being looked up.
  struct found {
    position* pos = nullptr;  // nullptr: none
    unsigned offset = 0;      // its window offset (its bit in the home word)
    role r = role::endpoint;
    half owner = nullptr;
  };

  // Frees the position array, which is 2 MiB-aligned so it can sit on huge pages.
  struct position_deleter {
    std::size_t count;
    std::size_t align;
    void operator()(position* p) const;
  };
  static std::unique_ptr<position[], position_deleter> allocate_positions(std::size_t count);

  std::size_t home_of(const session_id& id) const;
  position& at(std::size_t home, unsigned offset) const;
  found scan(std::size_t home, std::uint64_t home_word, const session_id& id) const;
  position* reserve(std::size_t home, const session_id& id, role r, half h, unsigned& offset);
  bool remove(position& home, std::uint64_t& home_word, const found& f);
  bool admit() const;
  bool take_credit(role r);
  void return_credit(role r);
  static unsigned my_stripe();

  std::size_t max_pending_;
  std::size_t mask_;  // positions - 1
  std::uint64_t salt_hi_, salt_lo_;
  std::unique_ptr<position[], position_deleter> positions_;
  std::unique_ptr<stripe[]> stripes_;
};

/// Pairs the two halves of a session across worker threads without locks; owns no halves.
/// Every pointer stored is a `Half*` (arrive() takes nothing else), so the peer it hands
/// back is one too.
template <typename Half>
class session_table {
 public:
  using half = Half*;
  using outcome = session_table_core::outcome;

  /// arrive()'s result; `peer` is set only when paired, and the caller then owns it.
  struct arrive_result {
    outcome what;
    half peer = nullptr;
  };

  /// Preallocates room for max_pending waiting halves (max_pending < 2^31).
  explicit session_table(std::size_t max_pending) : core_(max_pending) {}

  /// Pairs h with id's waiting opposite half (its owner's prior writes visible), or stores h, or refuses it.
  arrive_result arrive(const session_id& id, role r, half h) {
    const auto res = core_.arrive(id, r, h);
    return {res.what, static_cast<half>(res.peer)};
  }
  /// Removes h (stored by an earlier arrive()): true if gone for good, false if a peer claimed it first.
  bool cancel(const session_id& id, role r, half h) { return core_.cancel(id, r, h); }
  /// Number of halves of role r waiting; exact only when no operation is in flight.
  std::size_t waiting(role r) const { return core_.waiting(r); }
  /// The capacity bound given to the constructor.
  std::size_t max_pending() const { return core_.max_pending(); }

 private:
  session_table_core core_;
};

}  // namespace zp::proxy
