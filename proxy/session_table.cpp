#include "proxy/session_table.hpp"

#include <absl/hash/hash.h>
#include <absl/random/random.h>
// Transparent huge pages where the platform has them (Linux); elsewhere the 2 MiB
// alignment alone is kept.
#if __has_include(<sys/mman.h>)
#include <sys/mman.h>
#endif

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdlib>
#include <memory>
#include <new>

// Memory orders, in one place; each use below names the rule it follows.
//
// R1 Publication. A record's fields are stored while its position is held, before the
//    home-word CAS (release) that sets its bit. Readers load the home word with acquire
//    (every later modification of a home word is an RMW, so it carries the release
//    along), so whoever finds the bit sees the fields -- and everything the owner did
//    before arrive(), which is what lets a claimer use the peer connection it gets.
// R2 Validation. A position is rewritten only after its old record's bit was cleared:
//    remove() clears the bit, then frees the position (release store); reserve() takes
//    it with an acq_rel CAS, then stores the new fields with release stores. A reader
//    loads state, id and owner with acquire, so if any of them returns a newer record's
//    value, the clearing CAS happens-before whatever the reader does next with the home
//    word -- the CAS that acts on the scan, or a second load when no CAS is needed -- and
//    that CAS fails, or that load differs from the snapshot: the scan is discarded. If
//    the CAS succeeds or the load agrees, every value read belongs to the record its bit
//    named.
// R3 Reuse. The free (release) / reserve (acquire) pair also orders the previous winner's
//    reads of a record before the next record's writes.
// R4 Decision. Inserting, claiming and cancelling are CASes of the home word from the
//    snapshot the scan used; each success bumps the version, so at most one decision is
//    taken per snapshot and none on a stale one, whatever the memory orders. acq_rel:
//    release for R1 (insert) and R2 (removal), acquire because a failed CAS hands back
//    the word we rescan with.
// R5 Credits are plain counters; no data is published through them. Their RMWs are
//    atomic, so credits are conserved and at most max_pending halves wait: relaxed.

namespace zp::proxy {

namespace {

// Position state. Only "free" matters to other threads; the role of a held position
// is read by scans, and only for a position whose bit they found.
constexpr std::uint32_t k_free = 0;
constexpr std::uint32_t held(role r) { return r == role::endpoint ? 1 : 2; }
constexpr role role_of(std::uint32_t s) { return s == 1 ? role::endpoint : role::module_server; }

// Home word: {version:32, bitmap:32}. Adding k_version_one bumps the version (the carry
// out of bit 63 is dropped). To fool a CAS, one home would have to be modified exactly
// 2^32 times, ending with the same bitmap, while one thread sits between its load and its
// CAS; each modification is a separate hello (a TLS handshake) for that home.
constexpr std::uint64_t k_version_one = std::uint64_t{1} << 32;
constexpr std::uint32_t bitmap_of(std::uint64_t w) { return static_cast<std::uint32_t>(w); }
constexpr std::uint64_t bit(unsigned offset) { return std::uint64_t{1} << offset; }

// Stripe word: {waiting endpoints:int32, credits:uint32}. Unsigned wrap-around adds a
// signed delta to the high half; credits never exceed max_pending < 2^31, so the low
// half never carries into it.
constexpr std::uint64_t k_endpoint_one = std::uint64_t{1} << 32;
constexpr std::uint32_t credits_of(std::uint64_t w) { return static_cast<std::uint32_t>(w); }
constexpr std::int32_t endpoints_of(std::uint64_t w) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(w >> 32));
}

// Credits moved at once when a thread's stripe runs dry: enough that a thread storing
// more than it removes steals once per 32 halves, few enough that the brief transit
// (see take_credit) is negligible.
constexpr std::uint32_t k_steal_batch = 32;

constexpr std::size_t triangular(unsigned i) { return std::size_t{i} * (i + 1) / 2; }

}  // namespace

session_table_core::session_table_core(std::size_t max_pending) : max_pending_(max_pending) {
  assert(max_pending < (std::size_t{1} << 31));
  // At least 2 * k_window positions so the 32 triangular offsets are distinct, and at
  // least twice max_pending so at most about half the positions are held: the 32
  // positions of a window are then all held with probability about 2^-32.
  const std::size_t positions = std::bit_ceil(std::max<std::size_t>(2 * max_pending, 2 * k_window));
  mask_ = positions - 1;
  absl::BitGen bits;  // seeded from the OS entropy source
  salt_hi_ = absl::Uniform<std::uint64_t>(bits);
  salt_lo_ = absl::Uniform<std::uint64_t>(bits);
  positions_ = allocate_positions(positions);
  stripes_ = std::make_unique<stripe[]>(k_stripes);
  for (unsigned i = 0; i < k_stripes; ++i) {
    const std::size_t share = max_pending / k_stripes + (i < max_pending % k_stripes ? 1 : 0);
    // Relaxed: the table reaches other threads through whatever hands them the
    // pointer, which orders construction before their first call.
    stripes_[i].word.store(share, std::memory_order_relaxed);
  }
}

session_table_core::~session_table_core() = default;

void session_table_core::position_deleter::operator()(position* p) const {
  std::destroy_n(p, count);
  ::operator delete(p, std::align_val_t(align));
}

// Ids are random, so every operation lands on a random line of the array; with 4 KiB
// pages a table of a few MiB would also miss the TLB on most operations. The array is
// therefore 2 MiB-aligned and, on Linux, offered to transparent huge pages.
std::unique_ptr<session_table_core::position[], session_table_core::position_deleter>
session_table_core::allocate_positions(std::size_t count) {
  constexpr std::size_t k_huge_page = std::size_t{2} << 20;
  std::size_t bytes = count * sizeof(position);
  const std::size_t align = bytes >= k_huge_page ? k_huge_page : alignof(position);
  bytes = (bytes + align - 1) / align * align;
  void* raw = ::operator new(bytes, std::align_val_t(align));  // throws std::bad_alloc
#ifdef MADV_HUGEPAGE
  if (align == k_huge_page) ::madvise(raw, bytes, MADV_HUGEPAGE);  // a hint; failure is harmless
#endif
  auto* p = static_cast<position*>(raw);
  std::uninitialized_value_construct_n(p, count);  // all free, all home words empty
  return {p, position_deleter{count, align}};
}

std::size_t session_table_core::home_of(const session_id& id) const {
  return absl::HashOf(id.hi ^ salt_hi_, id.lo ^ salt_lo_) & mask_;
}

session_table_core::position& session_table_core::at(std::size_t home, unsigned offset) const {
  return positions_[(home + triangular(offset)) & mask_];
}

// The record for id among those the home word names. Unchecked: the caller acts on it
// only through a CAS from home_word, or after re-reading the home word unchanged (R2).
session_table_core::found session_table_core::scan(std::size_t home, std::uint64_t home_word,
                                                   const session_id& id) const {
  for (std::uint32_t bits = bitmap_of(home_word); bits != 0; bits &= bits - 1) {
    const auto offset = static_cast<unsigned>(std::countr_zero(bits));
    position& p = at(home, offset);
    const std::uint32_t s = p.state.load(std::memory_order_acquire);  // R2
    if (s == k_free) continue;                                        // the bit is stale; validation will fail
    if (p.id_hi.load(std::memory_order_acquire) != id.hi) continue;   // R2
    if (p.id_lo.load(std::memory_order_acquire) != id.lo) continue;   // R2
    return found{&p, offset, role_of(s), p.owner.load(std::memory_order_acquire)};  // R2
  }
  return found{};
}

// Takes a free position in id's window and writes the record into it. The record is
// invisible until its bit is CASed into the home word.
session_table_core::position* session_table_core::reserve(std::size_t home, const session_id& id, role r, half h,
                                                          unsigned& offset) {
  for (unsigned i = 0; i < k_window; ++i) {
    position& p = at(home, i);
    std::uint32_t s = p.state.load(std::memory_order_relaxed);  // a hint; the CAS decides
    if (s != k_free) continue;
    if (!p.state.compare_exchange_strong(s, held(r), std::memory_order_acq_rel,  // R2, R3
                                         std::memory_order_relaxed)) {
      continue;
    }
    p.id_hi.store(id.hi, std::memory_order_release);  // R2
    p.id_lo.store(id.lo, std::memory_order_release);  // R2
    p.owner.store(h, std::memory_order_release);      // R2
    offset = i;
    return &p;
  }
  return nullptr;
}

// Takes f's record out of the home, deciding the claim or cancel (R4). On failure
// home_word holds the current word to rescan with.
bool session_table_core::remove(position& home, std::uint64_t& home_word, const found& f) {
  if (!home.home.compare_exchange_strong(home_word, (home_word + k_version_one) & ~bit(f.offset),
                                         std::memory_order_acq_rel,  // R4
                                         std::memory_order_acquire)) {
    return false;
  }
  // The record is ours alone now; free its position for the next one.
  f.pos->state.store(k_free, std::memory_order_release);  // R2, R3
  return_credit(f.r);
  return true;
}

unsigned session_table_core::my_stripe() {
  // Round-robin by thread, so two worker threads never share a counter until there are
  // more than k_stripes of them.
  static std::atomic<unsigned> next{0};
  thread_local const unsigned mine = next.fetch_add(1, std::memory_order_relaxed) % k_stripes;
  return mine;
}

// PROTOCOL.md 3.4: a hello is refused while max_pending halves wait, i.e. while no
// stripe holds a credit.
bool session_table_core::admit() const {
  const unsigned first = my_stripe();
  for (unsigned i = 0; i < k_stripes; ++i) {
    const auto& word = stripes_[(first + i) % k_stripes].word;
    if (credits_of(word.load(std::memory_order_relaxed)) > 0) return true;  // R5
  }
  return false;
}

bool session_table_core::take_credit(role r) {
  // One credit fewer and, for an endpoint, one waiting endpoint more, in one RMW.
  const std::uint64_t endpoint_delta = r == role::endpoint ? k_endpoint_one : 0;
  const unsigned mine = my_stripe();
  auto& own = stripes_[mine].word;
  std::uint64_t w = own.load(std::memory_order_relaxed);
  while (credits_of(w) > 0) {
    if (own.compare_exchange_weak(w, w + endpoint_delta - 1, std::memory_order_relaxed)) return true;  // R5
  }
  // Our stripe is dry (this thread has stored more halves than it removed). Take a batch
  // from another stripe so the next inserts are local again instead of every one
  // hitting a foreign cache line. The surplus is in transit between the two RMWs, which
  // is the one other moment `full` can be answered early.
  for (unsigned i = 1; i < k_stripes; ++i) {
    auto& other = stripes_[(mine + i) % k_stripes].word;
    w = other.load(std::memory_order_relaxed);
    while (credits_of(w) > 0) {
      const std::uint32_t batch = std::min<std::uint32_t>(k_steal_batch, (credits_of(w) + 1) / 2);
      if (other.compare_exchange_weak(w, w + endpoint_delta - batch, std::memory_order_relaxed)) {  // R5
        if (batch > 1) own.fetch_add(batch - 1, std::memory_order_relaxed);                         // R5
        return true;
      }
    }
  }
  return false;
}

void session_table_core::return_credit(role r) {
  const std::uint64_t delta = 1 - (r == role::endpoint ? k_endpoint_one : 0);
  stripes_[my_stripe()].word.fetch_add(delta, std::memory_order_relaxed);  // R5
}

session_table_core::arrive_result session_table_core::arrive(const session_id& id, role r, half h) {
  assert(h != nullptr);
  if (!admit()) return {outcome::full};
  const std::size_t home = home_of(id);
  position& hp = positions_[home];
  position* mine = nullptr;  // our record, written but unpublished, once we need one
  unsigned my_offset = 0;
  // Gives back a record we did not need after all (we paired or conflicted). Nobody
  // else can have seen it: its bit was never set.
  auto drop_mine = [&] {
    if (mine == nullptr) return;
    mine->state.store(k_free, std::memory_order_release);  // R3
    return_credit(r);
  };

  std::uint64_t w = hp.home.load(std::memory_order_acquire);  // R1
  for (;;) {
    // The scan is checked by whatever decides on it: the CAS in remove() or in the
    // publish below (it fails if the home word moved since w), or, for a conflict, which
    // takes no CAS, a second load of the home word (R2).
    const found f = scan(home, w, id);
    if (f.pos != nullptr) {
      // PROTOCOL.md 3.3: same role waiting -> the newcomer gets 409 and the waiting half
      // is undisturbed; opposite role waiting -> the two pair and the id leaves.
      if (f.r == r) {
        const std::uint64_t now = hp.home.load(std::memory_order_acquire);  // R2
        if (now != w) {
          w = now;
          continue;
        }
        drop_mine();
        return {outcome::conflict};
      }
      if (remove(hp, w, f)) {
        drop_mine();
        return {outcome::paired, f.owner};
      }
      continue;  // its owner cancelled it, another half claimed it, or the home moved on
    }
    // Nobody waits under the id: store ours.
    if (mine == nullptr) {
      if (!take_credit(r)) return {outcome::full};
      mine = reserve(home, id, r, h, my_offset);
      if (mine == nullptr) {
        // All 32 positions of the window are held (about 2^-32 at full load; see the
        // constructor): refusing is the bounded answer; the client retries.
        return_credit(r);
        return {outcome::full};
      }
    }
    if ((w & bit(my_offset)) != 0) {
      // A stale snapshot still shows the previous record at our position; a fresh load
      // will not (its bit was cleared before the position was freed).
      w = hp.home.load(std::memory_order_acquire);
      continue;
    }
    if (hp.home.compare_exchange_weak(w, (w + k_version_one) | bit(my_offset),
                                      std::memory_order_acq_rel,  // R1, R4
                                      std::memory_order_acquire)) {
      return {outcome::waiting};
    }
    // The home changed since the scan (maybe the same id arrived): rescan with w.
  }
}

bool session_table_core::cancel(const session_id& id, role r, half h) {
  const std::size_t home = home_of(id);
  position& hp = positions_[home];
  std::uint64_t w = hp.home.load(std::memory_order_acquire);  // R1
  for (;;) {
    const found f = scan(home, w, id);
    const std::uint64_t now = hp.home.load(std::memory_order_acquire);  // R2: validate
    if (now != w) {
      w = now;
      continue;
    }
    // Our half is not waiting, so a peer claimed it. (If another half of our role waits
    // -- ours was claimed, then a new one came -- it is not ours to remove.)
    if (f.pos == nullptr || f.r != r || f.owner != h) return false;
    if (remove(hp, w, f)) return true;
    // The home moved on (maybe a peer claimed ours): rescan with w.
  }
}

std::size_t session_table_core::waiting(role r) const {
  std::uint64_t credits = 0;
  std::int64_t endpoints = 0;
  for (unsigned i = 0; i < k_stripes; ++i) {
    const std::uint64_t w = stripes_[i].word.load(std::memory_order_relaxed);  // R5
    credits += credits_of(w);
    endpoints += endpoints_of(w);
  }
  // The stripes are read one after another, so under concurrency a credit can be seen
  // twice or not at all; clamp rather than report a negative count.
  const auto held_credits = static_cast<std::int64_t>(max_pending_) - static_cast<std::int64_t>(credits);
  const std::int64_t n = r == role::endpoint ? endpoints : held_credits - endpoints;
  return static_cast<std::size_t>(std::clamp<std::int64_t>(n, 0, static_cast<std::int64_t>(max_pending_)));
}

}  // namespace zp::proxy
