// The rendezvous table (PROTOCOL.md 3.3, ARCHITECTURE.md "Rendezvous and the session
// table"): a lock-free map from a session id to the one half waiting under it.
//
// Design
// ------
// Storage is one array of `position`s (a cache line each), preallocated in the
// constructor: 2 * max_pending rounded up to a power of two, so at most half of it is
// ever occupied. Nothing is allocated afterwards and nothing is ever freed while the
// table lives, so a thread may read a position at any time; staleness is detected, never
// dereferenced (the records are owned by the array and named by index + generation).
//
// * Home and window. An id hashes (absl::Hash salted with 128 random bits drawn per
//   table, so a client cannot pick colliding ids) to a home position h. Its record may
//   live at any of the k_window = 32 positions h + i(i+1)/2 (i < 32, triangular
//   probing, which visits distinct positions in a power-of-two array). So every
//   operation looks at no more than 32 positions, under any churn, forever.
// * The home word (one per position) is {32-bit version, 32-bit bitmap}: bit i set means
//   "an entry whose home is h sits at window offset i". Every insert into and every
//   removal from h's window is a CAS on h's home word that bumps the version. That CAS
//   is what makes "no waiting half under this id, so store mine" atomic: two inserts of
//   the same id share the home word, so the second one's CAS fails and it rescans and
//   finds the first. Removal clears the bit and frees the position at once; there are no
//   tombstones, so churn cannot lengthen probes.
// * The state word (one per position) is {generation, kind, role}. Who wins a waiting
//   half -- the opposite half claiming it, or its owner cancelling it -- is decided by
//   one CAS of that word from waiting(g) to claimed(g) or cancelled(g): exactly one
//   succeeds. The generation is bumped each time the position is reused, so a CAS made
//   with a stale view fails instead of hitting a newer record (no ABA).
// * Readers validate instead of locking: id words are read between two reads of the state
//   word (a seqlock keyed by the generation), and the home word is re-read after the
//   window scan; any change means "retry", and a change only happens when another
//   operation made progress, so arrive() and cancel() are lock-free.
// * Capacity. max_pending credits are spread over k_stripes cache-line-padded counters.
//   A half that starts waiting takes a credit (its thread's stripe first, others only
//   when that one is empty); the thread that removes it returns one to its own stripe.
//   So no counter is shared by every operation, yet at most max_pending halves ever wait
//   (a waiting half always holds a credit). `full` is exact when nothing else is in
//   flight; while another thread is between deciding a removal and returning its credit
//   (a few instructions), an arrive may see `full` one credit early. waiting() reads the
//   same stripes (each also counts waiting endpoint halves).
//
// Full is checked first, as PROTOCOL.md 3.4 says: while max_pending halves wait, every
// hello is refused (503), even one whose peer is waiting; that peer keeps waiting.
//
// Memory: 64 bytes per position, i.e. 128..256 bytes per unit of max_pending.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "proxy/session_id.hpp"

namespace zp::proxy {

/// Pairs the two halves of a session across worker threads without locks; owns no halves.
class session_table {
 public:
  /// Opaque non-null pointer owned by the caller (a waiting connection).
  using half = void*;

  /// Preallocates room for max_pending waiting halves (max_pending < 2^30).
  explicit session_table(std::size_t max_pending);
  /// Frees the storage; halves still waiting are the callers' to close.
  ~session_table();
  session_table(const session_table&) = delete;
  session_table& operator=(const session_table&) = delete;

  /// What arrive() did with the newcomer.
  enum class outcome { paired, waiting, conflict, full };

  /// arrive()'s result; `peer` is set only when paired, and the caller then owns it.
  struct arrive_result {
    outcome what;
    half peer = nullptr;
  };

  /// Pairs h with the waiting opposite half of id, or stores it, or refuses it (3.3/3.4).
  arrive_result arrive(const session_id& id, role r, half h);

  /// Removes waiting half h: true if removed for good, false if a peer claimed it first.
  bool cancel(const session_id& id, role r, half h);

  /// Number of halves of role r waiting; exact only when no operation is in flight.
  std::size_t waiting(role r) const;

  /// The capacity bound given to the constructor.
  std::size_t max_pending() const { return max_pending_; }

 private:
  static constexpr std::size_t k_cache_line = 64;
  static constexpr unsigned k_window = 32;   // probe offsets per home: bits in the home word
  static constexpr unsigned k_stripes = 16;  // capacity counters; a power of two

  // One cache line: the home word of the ids hashing here and the record stored here,
  // which usually belongs to the same home, so a pair touches one line.
  struct alignas(k_cache_line) position {
    std::atomic<std::uint64_t> home{0};   // {version:32, bitmap:32}; see top of file
    std::atomic<std::uint64_t> state{0};  // {generation:60, role:1, kind:3}
    std::atomic<std::uint64_t> id_hi{0};  // written only while reserved (seqlock data)
    std::atomic<std::uint64_t> id_lo{0};
    std::atomic<half> owner{nullptr};  // the waiting half; read by its claimer
  };

  // {endpoint count (signed 32), credits (unsigned 32)}, one word so a single RMW
  // moves both.
  struct alignas(k_cache_line) stripe {
    std::atomic<std::uint64_t> word{0};
  };

  // What a window scan found.
  struct found {
    position* pos = nullptr;  // nullptr: no waiting half under the id
    unsigned offset = 0;      // its window offset (bit in the home word)
    std::uint64_t state = 0;  // the state word it was seen with (a waiting kind)
  };

  std::size_t home_of(const session_id& id) const;
  position& at(std::size_t home, unsigned offset) const;
  bool scan(std::size_t home, std::uint64_t home_word, const session_id& id, found& out) const;
  position* reserve(std::size_t home, const session_id& id, role r, half h, unsigned& offset);
  void unlink(position& home, unsigned offset);
  void release(position& p);
  bool admit() const;
  bool take_credit(role r);
  void return_credit(role r);
  static unsigned my_stripe();

  // Frees the position array, which is allocated 2 MiB-aligned so it can sit on huge
  // pages (see the constructor).
  struct position_deleter {
    std::size_t count;
    void operator()(position* p) const;
  };
  static std::unique_ptr<position[], position_deleter> allocate_positions(std::size_t count);

  std::size_t max_pending_;
  std::size_t mask_;  // positions - 1
  std::uint64_t salt_hi_, salt_lo_;
  std::unique_ptr<position[], position_deleter> positions_;
  std::unique_ptr<stripe[]> stripes_;
};

}  // namespace zp::proxy
