#include "common/source_limiter.hpp"

#include <absl/hash/hash.h>

#include <algorithm>
#include <utility>

namespace zp {

source_slot::source_slot(source_slot&& other) noexcept
    : limiter_(std::exchange(other.limiter_, nullptr)), source_(std::move(other.source_)) {}

source_slot& source_slot::operator=(source_slot&& other) noexcept {
  if (this != &other) {
    release();
    limiter_ = std::exchange(other.limiter_, nullptr);
    source_ = other.source_;
  }
  return *this;
}

void source_slot::release() {
  if (limiter_ != nullptr) std::exchange(limiter_, nullptr)->release(source_);
}

source_slot source_limiter::try_acquire(const asio::ip::address& source, std::uint64_t limit) {
  return acquire(source, limit) ? source_slot(this, source) : source_slot();
}

std::array<unsigned char, 16> source_key(const asio::ip::address& a) { return source_limiter::key_of(a).bytes; }

source_limiter::key source_limiter::key_of(const asio::ip::address& a) {
  // IPv4 and IPv4-mapped IPv6 are one source; any other IPv6 address counts by its /64,
  // which one host can fill with addresses at will.
  if (a.is_v6() && !a.to_v6().is_v4_mapped()) {
    key k{a.to_v6().to_bytes()};
    std::fill(k.bytes.begin() + 8, k.bytes.end(), 0);
    return k;
  }
  asio::ip::address_v6 v6 = a.is_v4() ? asio::ip::make_address_v6(asio::ip::v4_mapped, a.to_v4()) : a.to_v6();
  return key{v6.to_bytes()};
}

source_limiter::shard& source_limiter::shard_of(const key& k) { return shards_[absl::Hash<key>{}(k) % shards_.size()]; }

bool source_limiter::acquire(const asio::ip::address& source, std::uint64_t limit) {
  const key k = key_of(source);
  shard& s = shard_of(k);
  std::lock_guard lock(s.mu);
  std::uint64_t& n = s.counts[k];
  if (n >= limit) {
    if (n == 0) s.counts.erase(k);
    return false;
  }
  ++n;
  return true;
}

void source_limiter::release(const asio::ip::address& source) {
  const key k = key_of(source);
  shard& s = shard_of(k);
  std::lock_guard lock(s.mu);
  auto it = s.counts.find(k);
  if (it == s.counts.end()) return;
  if (--it->second == 0) s.counts.erase(it);
}

std::uint64_t source_limiter::held(const asio::ip::address& source) {
  const key k = key_of(source);
  shard& s = shard_of(k);
  std::lock_guard lock(s.mu);
  auto it = s.counts.find(k);
  return it == s.counts.end() ? 0 : it->second;
}

}  // namespace zp

namespace zp {

std::size_t source_limiter::sources() {
  std::size_t n = 0;
  for (shard& s : shards_) {
    std::lock_guard lock(s.mu);
    n += s.counts.size();
  }
  return n;
}

}  // namespace zp
