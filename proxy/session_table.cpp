#include "proxy/session_table.hpp"

#include <absl/hash/hash.h>
#include <absl/random/random.h>

#include <sys/mman.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cstdlib>
#include <memory>
#include <new>

// Memory orders, in one place (each use below says which rule it follows):
//
// R1 Publication. A record's id words and owner are stored (release) while it is
//    reserved, then its state becomes waiting (release), then the home-word CAS
//    (acq_rel) makes it reachable. Readers load the home word and the state with
//    acquire, so whoever sees the record sees its words and owner -- and, through the
//    owner's release stores, everything the owner thread did before arrive(), which is
//    what lets the claimer use the peer connection it gets back.
// R2 Seqlock. Id words are only rewritten after the state has moved to a new
//    generation (reservation CAS), and each id store is a release store, so a reader
//    whose acquire load of an id word returns a newer record's value then sees the new
//    generation when it re-reads the state, and discards what it read.
// R3 Reuse. Freeing a position is a release store of empty; reserving it is an acquire
//    CAS on that value. So the previous record's claimer has read its owner and cleared
//    its home bit before the next record overwrites it.
// R4 Decision. Claim and cancel are CASes on the same state word from the same
//    waiting(g) value, so exactly one succeeds whatever the orders; the winner uses
//    acquire because it now owns the record and reads it.
// R5 Credits are plain counters: no data is published through them. Their RMWs are
//    atomic, so credits are conserved and at most max_pending halves wait; relaxed.

namespace zp::proxy {

namespace {

// State word: {generation:60, role:1, kind:3}.
enum : std::uint64_t { k_empty = 0, k_reserved = 1, k_waiting = 2, k_claimed = 3, k_cancelled = 4 };
constexpr std::uint64_t k_kind_mask = 7;
constexpr std::uint64_t k_role_bit = 8;
constexpr unsigned k_gen_shift = 4;

constexpr std::uint64_t make_state(std::uint64_t gen, std::uint64_t kind, role r) {
  return gen << k_gen_shift | (r == role::module_server ? k_role_bit : 0) | kind;
}
constexpr std::uint64_t kind_of(std::uint64_t s) { return s & k_kind_mask; }
constexpr std::uint64_t gen_of(std::uint64_t s) { return s >> k_gen_shift; }
constexpr role role_of(std::uint64_t s) { return (s & k_role_bit) != 0 ? role::module_server : role::endpoint; }

// Home word: {version:32, bitmap:32}. Adding k_version_one bumps the version; the carry
// out of bit 63 is dropped. The version makes a stale CAS fail; it would have to wrap
// 2^32 times on one home while one thread sits between its load and its CAS to be fooled,
// and each modification of a home is a separate hello (a TLS handshake) for that home.
constexpr std::uint64_t k_version_one = std::uint64_t{1} << 32;
constexpr std::uint32_t bitmap_of(std::uint64_t w) { return static_cast<std::uint32_t>(w); }

// Stripe word: {waiting endpoints:int32, credits:uint32}. Unsigned wrap-around adds
// a signed delta to the high half; credits never exceed max_pending < 2^31, so the low
// half never carries into it.
constexpr std::uint64_t k_endpoint_one = std::uint64_t{1} << 32;
constexpr std::uint32_t credits_of(std::uint64_t w) { return static_cast<std::uint32_t>(w); }
constexpr std::int32_t endpoints_of(std::uint64_t w) {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(w >> 32));
}

constexpr std::size_t triangular(unsigned i) { return std::size_t{i} * (i + 1) / 2; }

}  // namespace

session_table::session_table(std::size_t max_pending) : max_pending_(max_pending) {
  assert(max_pending < (std::size_t{1} << 31));
  // At least 2 * k_window positions so the 32 triangular offsets are distinct, and at
  // least twice max_pending so at most half the positions hold records: a window then
  // has all 32 positions taken with probability about 2^-32.
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

session_table::~session_table() = default;

void session_table::position_deleter::operator()(position* p) const {
  std::destroy_n(p, count);
  std::free(p);
}

// Ids are random, so every operation lands on a random line of the array. With 4 KiB
// pages a table of a few MiB then misses the TLB on most operations (measured: about
// two thirds of arrive()'s time in the pair benchmark was that first load). The array
// is therefore 2 MiB-aligned and, on Linux, offered to transparent huge pages.
std::unique_ptr<session_table::position[], session_table::position_deleter> session_table::allocate_positions(
    std::size_t count) {
  constexpr std::size_t k_huge_page = std::size_t{2} << 20;
  std::size_t bytes = count * sizeof(position);
  const std::size_t align = bytes >= k_huge_page ? k_huge_page : alignof(position);
  bytes = (bytes + align - 1) / align * align;
  void* raw = std::aligned_alloc(align, bytes);
  if (raw == nullptr) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
  if (align == k_huge_page) ::madvise(raw, bytes, MADV_HUGEPAGE);  // a hint; failure is harmless
#endif
  auto* p = static_cast<position*>(raw);
  std::uninitialized_value_construct_n(p, count);  // all empty, generation 0
  return {p, position_deleter{count}};
}

std::size_t session_table::home_of(const session_id& id) const {
  return absl::HashOf(salt_hi_, salt_lo_, id.hi, id.lo) & mask_;
}

session_table::position& session_table::at(std::size_t home, unsigned offset) const {
  return positions_[(home + triangular(offset)) & mask_];
}

// Finds the waiting record for id among the home's bits in home_word. false: a record
// changed under us (retry). The caller must still re-read the home word: a match counts
// only if that word is unchanged (then the record was published and waiting, see
// arrive()).
bool session_table::scan(std::size_t home, std::uint64_t home_word, const session_id& id, found& out) const {
  out = found{};
  for (std::uint32_t bits = bitmap_of(home_word); bits != 0; bits &= bits - 1) {
    const auto offset = static_cast<unsigned>(std::countr_zero(bits));
    position& p = at(home, offset);
    const std::uint64_t s = p.state.load(std::memory_order_acquire);   // R1
    if (kind_of(s) != k_waiting) continue;                             // claimed or cancelled: logically gone
    const std::uint64_t hi = p.id_hi.load(std::memory_order_acquire);  // R2
    const std::uint64_t lo = p.id_lo.load(std::memory_order_acquire);  // R2
    // Relaxed: the acquire loads above keep this load after them (R2).
    if (gen_of(p.state.load(std::memory_order_relaxed)) != gen_of(s)) return false;
    if (hi == id.hi && lo == id.lo) {
      out = found{&p, offset, s};
      return true;
    }
  }
  return true;
}

// Takes an empty position in id's window and fills it as an unpublished waiting record:
// it becomes visible only when its bit is CASed into the home word.
session_table::position* session_table::reserve(std::size_t home, const session_id& id, role r, half h,
                                                unsigned& offset) {
  for (unsigned i = 0; i < k_window; ++i) {
    position& p = at(home, i);
    std::uint64_t s = p.state.load(std::memory_order_relaxed);  // a hint; the CAS decides
    if (kind_of(s) != k_empty) continue;
    const std::uint64_t gen = gen_of(s) + 1;
    if (!p.state.compare_exchange_strong(s, make_state(gen, k_reserved, r),
                                         std::memory_order_acquire,  // R3
                                         std::memory_order_relaxed)) {
      continue;
    }
    p.id_hi.store(id.hi, std::memory_order_release);                          // R2
    p.id_lo.store(id.lo, std::memory_order_release);                          // R2
    p.owner.store(h, std::memory_order_release);                              // R2 (cancel() reads it in a scan)
    p.state.store(make_state(gen, k_waiting, r), std::memory_order_release);  // R1
    offset = i;
    return &p;
  }
  return nullptr;
}

void session_table::unlink(position& home, unsigned offset) {
  const std::uint64_t bit = std::uint64_t{1} << offset;
  // Relaxed load: only a first guess for the CAS. Release on the CAS is stronger than
  // readers need (they rely on release() below, R3) and costs nothing extra on x86,
  // where every locked RMW is a full barrier.
  std::uint64_t w = home.home.load(std::memory_order_relaxed);
  while (!home.home.compare_exchange_weak(w, (w + k_version_one) & ~bit, std::memory_order_release,
                                          std::memory_order_relaxed)) {
  }
}

// Frees a position this thread owns: its record was claimed or cancelled by this thread
// (and unlinked), or was never published. Nobody else writes the state word meanwhile,
// so a load and a store do; the generation is bumped by the next reserve().
void session_table::release(position& p) {
  const std::uint64_t s = p.state.load(std::memory_order_relaxed);
  p.state.store(make_state(gen_of(s), k_empty, role::endpoint), std::memory_order_release);  // R3
}

unsigned session_table::my_stripe() {
  // Round-robin by thread, so two worker threads never share a counter until there are
  // more than k_stripes of them.
  static std::atomic<unsigned> next{0};
  thread_local const unsigned mine = next.fetch_add(1, std::memory_order_relaxed) % k_stripes;
  return mine;
}

// PROTOCOL.md 3.4: a hello is refused while max_pending halves wait, i.e. while no
// stripe holds a credit.
bool session_table::admit() const {
  const unsigned first = my_stripe();
  for (unsigned i = 0; i < k_stripes; ++i) {
    const auto& word = stripes_[(first + i) % k_stripes].word;
    if (credits_of(word.load(std::memory_order_relaxed)) > 0) return true;  // R5
  }
  return false;
}

bool session_table::take_credit(role r) {
  // One credit fewer and, for an endpoint, one waiting endpoint more, in one RMW.
  const std::uint64_t delta = (r == role::endpoint ? k_endpoint_one : 0) - 1;
  const unsigned first = my_stripe();
  for (unsigned i = 0; i < k_stripes; ++i) {
    auto& word = stripes_[(first + i) % k_stripes].word;
    std::uint64_t w = word.load(std::memory_order_relaxed);
    while (credits_of(w) > 0) {
      if (word.compare_exchange_weak(w, w + delta, std::memory_order_relaxed)) return true;  // R5
    }
  }
  return false;
}

void session_table::return_credit(role r) {
  const std::uint64_t delta = 1 - (r == role::endpoint ? k_endpoint_one : 0);
  stripes_[my_stripe()].word.fetch_add(delta, std::memory_order_relaxed);  // R5
}

session_table::arrive_result session_table::arrive(const session_id& id, role r, half h) {
  assert(h != nullptr);
  if (!admit()) return {outcome::full};
  const std::size_t home = home_of(id);
  position& hp = positions_[home];
  position* mine = nullptr;  // our reserved, unpublished record, once we need one
  unsigned my_offset = 0;
  // Undoes a reservation that turned out not to be needed (we paired or conflicted).
  // Nobody can have claimed it: a claim needs a validated view with its bit set.
  auto drop_mine = [&] {
    if (mine == nullptr) return;
    release(*mine);
    return_credit(r);
  };

  std::uint64_t w = hp.home.load(std::memory_order_acquire);  // R1
  for (;;) {
    found f;
    if (!scan(home, w, id, f)) {
      w = hp.home.load(std::memory_order_acquire);
      continue;
    }
    // Validation: if the home word has not changed, no record was inserted into or
    // removed from this home during the scan, so every bit we followed named a published
    // record (a bit is cleared before its position is freed, and set only after the new
    // record is complete), and "none waiting" means none.
    const std::uint64_t now = hp.home.load(std::memory_order_acquire);  // R1
    if (now != w) {
      w = now;
      continue;
    }
    if (f.pos != nullptr) {
      // PROTOCOL.md 3.3: same role waiting -> 409 for the newcomer, the waiting half
      // stays; opposite role waiting -> pair.
      if (role_of(f.state) == r) {
        drop_mine();
        return {outcome::conflict};
      }
      std::uint64_t expected = f.state;
      const std::uint64_t claimed = make_state(gen_of(f.state), k_claimed, role_of(f.state));
      if (f.pos->state.compare_exchange_strong(expected, claimed,
                                               std::memory_order_acquire,  // R4
                                               std::memory_order_relaxed)) {
        const half peer = f.pos->owner.load(std::memory_order_relaxed);  // ordered by R1/R4
        unlink(hp, f.offset);
        release(*f.pos);
        return_credit(role_of(f.state));
        drop_mine();
        return {outcome::paired, peer};
      }
      // Its owner cancelled it or another half claimed it: look again.
      w = hp.home.load(std::memory_order_acquire);
      continue;
    }
    if (mine == nullptr) {
      if (!take_credit(r)) return {outcome::full};
      mine = reserve(home, id, r, h, my_offset);
      if (mine == nullptr) {
        // All 32 positions of the window are taken (about 2^-32 at full load; see the
        // constructor): refusing is the bounded answer, the client retries.
        return_credit(r);
        return {outcome::full};
      }
    }
    const std::uint64_t bit = std::uint64_t{1} << my_offset;
    if ((w & bit) != 0) {
      // A stale view still shows the previous record at our position; its bit was
      // cleared before the position was freed, so a fresh load will not.
      w = hp.home.load(std::memory_order_acquire);
      continue;
    }
    // Publish (R1: release). Acquire on failure: we rescan with the new word and must
    // see the records it names.
    if (hp.home.compare_exchange_weak(w, (w + k_version_one) | bit, std::memory_order_acq_rel,
                                      std::memory_order_acquire)) {
      return {outcome::waiting};
    }
  }
}

bool session_table::cancel(const session_id& id, role r, half h) {
  const std::size_t home = home_of(id);
  position& hp = positions_[home];
  std::uint64_t w = hp.home.load(std::memory_order_acquire);  // R1
  for (;;) {
    found f;
    if (!scan(home, w, id, f)) {
      w = hp.home.load(std::memory_order_acquire);
      continue;
    }
    const std::uint64_t now = hp.home.load(std::memory_order_acquire);  // validation, as in arrive()
    if (now != w) {
      w = now;
      continue;
    }
    // Nothing of ours waits under the id: it was claimed. (If another half of our role
    // waits -- ours was claimed, then a new one came -- it is not ours to remove. The
    // owner load needs no generation check: if the record moved on, ours was claimed.)
    if (f.pos == nullptr || role_of(f.state) != r || f.pos->owner.load(std::memory_order_acquire) != h) {  // R1
      return false;
    }
    std::uint64_t expected = f.state;
    if (f.pos->state.compare_exchange_strong(expected, make_state(gen_of(f.state), k_cancelled, r),
                                             std::memory_order_acquire,  // R4
                                             std::memory_order_relaxed)) {
      unlink(hp, f.offset);
      release(*f.pos);
      return_credit(r);
      return true;
    }
    // A peer claimed it between the scan and the CAS: the next scan will not find it.
    w = hp.home.load(std::memory_order_acquire);
  }
}

std::size_t session_table::waiting(role r) const {
  std::uint64_t credits = 0;
  std::int64_t endpoints = 0;
  for (unsigned i = 0; i < k_stripes; ++i) {
    const std::uint64_t w = stripes_[i].word.load(std::memory_order_relaxed);  // R5
    credits += credits_of(w);
    endpoints += endpoints_of(w);
  }
  // The stripes are read one after another, so under concurrency a credit can be seen
  // twice or not at all; clamp to a sane range rather than report a negative count.
  const std::int64_t held = static_cast<std::int64_t>(max_pending_) - static_cast<std::int64_t>(credits);
  const std::int64_t n = r == role::endpoint ? endpoints : held - endpoints;
  return static_cast<std::size_t>(std::clamp<std::int64_t>(n, 0, static_cast<std::int64_t>(max_pending_)));
}

}  // namespace zp::proxy
