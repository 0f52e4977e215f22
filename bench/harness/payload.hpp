#pragma once
// The bytes every scenario sends, and their check on the receiving side.
//
// One pseudo-random pattern of a prime length P, laid out with a tail copy so that any
// window [i, i + k_max_window) with i < P is contiguous. A stream with seed s carries, at
// stream offset o, the byte pattern[(s + o) mod P]. A sender writes straight out of the
// pattern (no copy, no per-byte work); a receiver memcmp()s what arrived against the
// pattern at its own running offset. Lost, duplicated, reordered or altered bytes all
// shift or change the comparison: P is prime, so no record or chunk size lines up with it.

#include <cstddef>
#include <cstdint>
#include <string>

namespace zp::bench {

class payload {
 public:
  /// The largest window at() hands out or verify() compares in one go.
  static constexpr std::size_t k_max_window = 1 << 20;

  /// Pointer to `len` (<= k_max_window) contiguous bytes of stream `seed` at `offset`.
  static const char* at(std::uint64_t seed, std::uint64_t offset);
  /// True if `data` is what stream `seed` carries at `offset` (any length).
  static bool verify(std::uint64_t seed, std::uint64_t offset, const char* data, std::size_t len);
  /// A seed for stream `direction` (0 or 1) of session number `session`.
  static std::uint64_t seed_for(std::uint64_t session, int direction);
};

}  // namespace zp::bench
