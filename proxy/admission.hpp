#pragma once
// Admission before the hello (PROTOCOL.md 3.6): everything a data-plane connection holds
// before it is paired is bounded, per source and in total, and the descriptors 17488 and
// second halves need stay free.
//
// - Admitting connections: from accept until the connection waits in the table, is handed
//   to a session, or is gone (so also while an error response goes out: the contract's
//   "until the hello is complete", plus the few seconds an answer may take). At most
//   max_admitting_per_source per source (IPv4 address, IPv6 /64) over both data ports,
//   max_admitting in all; over either, the connection is closed at accept.
// - Descriptors: a reserve of max(64, 1 % of the limit). A data-port connection accepted
//   into the reserve may only be a second half (it pairs, or is refused 503) and must
//   finish its hello within 2 s, so silent connections cannot sit on the reserve; one
//   that would take the upper half of the reserve is closed at accept: that half is
//   17488's.
// - Early data held by all waiting halves together: at most max_early_data_bytes; past
//   it, waiting halves stop being read (backpressure).
//
// Shared by every worker (in plane_shared); thread-safe. Refusals are counted by the
// caller, per listener and reason.

#include "common/source_limiter.hpp"
#include "common/tls_socket.hpp"
#include "proxy/data_plane_config.hpp"

#include <asio/ip/address.hpp>

#include <atomic>
#include <cstdint>

namespace zp::proxy {

class admission_limits {
 public:
  /// How many connections the process holds open now (common/tls_socket's count; a unit
  /// test gives its own).
  using connection_count = std::uint64_t (*)();
  explicit admission_limits(connection_count open_connections = &open_tls_connections)
      : open_connections_(open_connections) {}

  enum class verdict { admitted, admitted_in_reserve, refused_per_source, refused_total, refused_fd_reserve };

  /// An admitting connection's slots; given back when released or destroyed. Move-only.
  class ticket {
   public:
    ticket() = default;
    ticket(ticket&& other) noexcept;
    ticket& operator=(ticket&& other) noexcept;
    ticket(const ticket&) = delete;
    ticket& operator=(const ticket&) = delete;
    ~ticket() { release(); }
    void release();

   private:
    friend class admission_limits;
    source_slot slot_;
    std::atomic<std::uint64_t>* total_ = nullptr;
  };

  /// The descriptor budget: the process limit, and what is open besides connections.
  void set_fd_budget(std::uint64_t limit, std::uint64_t base);
  /// The decision at accept for a connection from `source`; `out` holds its slots when
  /// admitted (also in the reserve). A load balancer's connection (PROTOCOL.md 3.7) is
  /// not counted per source yet: `per_source` false, and attach_source() once its PROXY
  /// header named the client.
  verdict admit(const asio::ip::address& source, const session_settings& settings, ticket& out, bool per_source = true);
  /// Counts a connection admitted without a source against `source`; false (and the
  /// ticket unchanged) when that source holds max_admitting_per_source already.
  bool attach_source(const asio::ip::address& source, const session_settings& settings, ticket& t);

  /// Early data: a waiting half may read more only while this is true.
  bool early_data_room(const session_settings& settings) const {
    return early_bytes_.load(std::memory_order_relaxed) < settings.max_early_data_bytes;
  }
  void hold_early_data(std::uint64_t n) { early_bytes_.fetch_add(n, std::memory_order_relaxed); }
  void drop_early_data(std::uint64_t n) { early_bytes_.fetch_sub(n, std::memory_order_relaxed); }

  std::uint64_t admitting() const { return total_.load(std::memory_order_relaxed); }
  std::uint64_t early_data_bytes() const { return early_bytes_.load(std::memory_order_relaxed); }
  std::uint64_t fd_limit() const { return fd_limit_; }
  /// Descriptors in use by the process, as far as it counts them.
  std::uint64_t fds_in_use() const;
  /// The reserve of PROTOCOL.md 3.6.
  std::uint64_t fd_reserve() const;

 private:
  source_limiter per_source_;
  std::atomic<std::uint64_t> total_{0};
  std::atomic<std::uint64_t> early_bytes_{0};
  std::uint64_t fd_limit_ = 0;  // 0: unknown, no reserve
  std::uint64_t fd_base_ = 0;
  connection_count open_connections_;
};

}  // namespace zp::proxy
