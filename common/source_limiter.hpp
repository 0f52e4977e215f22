#pragma once
// Counts per source, for every per-source limit of PROTOCOL.md: waiting halves (3.4,
// 429), admitting connections (3.6), anonymous 17488 connections (4.2). A source is an
// IPv4 address or an IPv6 /64 (3.6: one host's addresses), IPv4-mapped IPv6 counting as
// IPv4. Connections from one source land on any worker, so the counts are shared: 64
// shards, each a small mutex-guarded map. The lock covers a hash-map update and nothing
// else (never I/O), and is taken once when a connection takes a slot and once when it
// gives it back, never per byte.

#include <asio/ip/address.hpp>

#include <absl/container/flat_hash_map.h>

#include <array>
#include <cstdint>
#include <mutex>

namespace zp {

class source_limiter;

/// The source an address counts as: an IPv4 address (IPv4-mapped IPv6 included), or an
/// IPv6 /64. Equal keys, one source.
std::array<unsigned char, 16> source_key(const asio::ip::address& a);

/// One slot held for a source; given back when released or destroyed. Move-only.
class source_slot {
 public:
  source_slot() = default;
  source_slot(source_slot&& other) noexcept;
  source_slot& operator=(source_slot&& other) noexcept;
  source_slot(const source_slot&) = delete;
  source_slot& operator=(const source_slot&) = delete;
  ~source_slot() { release(); }

  /// Gives the slot back now (no-op if none is held).
  void release();
  /// Holds a slot.
  explicit operator bool() const { return limiter_ != nullptr; }

 private:
  friend class source_limiter;

  source_slot(source_limiter* limiter, const asio::ip::address& source) : limiter_(limiter), source_(source) {}

  source_limiter* limiter_ = nullptr;
  asio::ip::address source_;
};

class source_limiter {
 public:
  /// A slot for `source` if it holds fewer than `limit`; an empty slot otherwise.
  source_slot try_acquire(const asio::ip::address& source, std::uint64_t limit);
  /// Takes a slot for `source` if it holds fewer than `limit`; false otherwise.
  bool acquire(const asio::ip::address& source, std::uint64_t limit);
  /// Returns a slot taken by acquire().
  void release(const asio::ip::address& source);
  /// Slots held by one source (tests, diagnostics).
  std::uint64_t held(const asio::ip::address& source);
  /// Sources holding at least one slot.
  std::size_t sources();

 private:
  struct key {
    std::array<unsigned char, 16> bytes;
    friend bool operator==(const key&, const key&) = default;
    template <typename H>
    friend H AbslHashValue(H h, const key& k) {
      return H::combine_contiguous(std::move(h), k.bytes.data(), k.bytes.size());
    }
  };
  struct alignas(64) shard {
    std::mutex mu;
    absl::flat_hash_map<key, std::uint64_t> counts;
  };
  friend std::array<unsigned char, 16> source_key(const asio::ip::address& a);
  static key key_of(const asio::ip::address& a);
  shard& shard_of(const key& k);

  std::array<shard, 64> shards_;
};

}  // namespace zp
