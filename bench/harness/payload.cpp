#include "bench/harness/payload.hpp"

#include <algorithm>
#include <cstring>
#include <random>
#include <vector>

namespace zp::bench {
namespace {

// A prime a little over 1 MiB (1,048,583): the pattern's period.
constexpr std::uint64_t k_period = 1048583;

const std::vector<char>& pattern() {
  static const std::vector<char> bytes = [] {
    std::vector<char> b(k_period + payload::k_max_window);
    std::mt19937_64 rng(0x7a6f6e6570726f78);  // fixed: both sides of a forwarder agree
    for (std::size_t i = 0; i < k_period; i += 8) {
      const std::uint64_t r = rng();
      std::memcpy(b.data() + i, &r, std::min<std::size_t>(8, k_period - i));
    }
    std::copy(b.begin(), b.begin() + payload::k_max_window, b.begin() + k_period);
    return b;
  }();
  return bytes;
}

}  // namespace

const char* payload::at(std::uint64_t seed, std::uint64_t offset) {
  return pattern().data() + (seed + offset) % k_period;
}

bool payload::verify(std::uint64_t seed, std::uint64_t offset, const char* data, std::size_t len) {
  while (len > 0) {
    const std::size_t n = std::min(len, k_max_window);
    if (std::memcmp(data, at(seed, offset), n) != 0) return false;
    data += n;
    offset += n;
    len -= n;
  }
  return true;
}

std::uint64_t payload::seed_for(std::uint64_t session, int direction) {
  // splitmix64: neighbouring sessions start far apart in the pattern.
  std::uint64_t z = session * 2 + static_cast<std::uint64_t>(direction) + 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return (z ^ (z >> 31)) % k_period;
}

}  // namespace zp::bench
