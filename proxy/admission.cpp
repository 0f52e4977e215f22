#include "proxy/admission.hpp"

#include "common/tls_socket.hpp"

#include <algorithm>
#include <utility>

namespace zp::proxy {

admission_limits::ticket::ticket(ticket&& other) noexcept
    : slot_(std::move(other.slot_)), total_(std::exchange(other.total_, nullptr)) {}

admission_limits::ticket& admission_limits::ticket::operator=(ticket&& other) noexcept {
  if (this != &other) {
    release();
    slot_ = std::move(other.slot_);
    total_ = std::exchange(other.total_, nullptr);
  }
  return *this;
}

void admission_limits::ticket::release() {
  slot_.release();
  if (total_ != nullptr) std::exchange(total_, nullptr)->fetch_sub(1, std::memory_order_relaxed);
}

void admission_limits::set_fd_budget(std::uint64_t limit, std::uint64_t base) {
  fd_limit_ = limit;
  fd_base_ = base;
}

std::uint64_t admission_limits::fds_in_use() const { return fd_base_ + open_connections_(); }

std::uint64_t admission_limits::fd_reserve() const { return std::max<std::uint64_t>(64, fd_limit_ / 100); }

admission_limits::verdict admission_limits::admit(const asio::ip::address& source, const session_settings& settings,
                                                  ticket& out, bool per_source) {
  verdict v = verdict::admitted;
  if (fd_limit_ > 0) {
    // +1: the descriptor just accepted is not counted yet.
    const std::uint64_t used = fds_in_use() + 1, reserve = fd_reserve();
    if (used + reserve / 2 >= fd_limit_) return verdict::refused_fd_reserve;
    if (used + reserve >= fd_limit_) v = verdict::admitted_in_reserve;
  }
  if (total_.fetch_add(1, std::memory_order_relaxed) >= settings.max_admitting) {
    total_.fetch_sub(1, std::memory_order_relaxed);
    return verdict::refused_total;
  }
  ticket t;
  t.total_ = &total_;
  if (per_source) {
    t.slot_ = per_source_.try_acquire(source, settings.max_admitting_per_source);
    if (!t.slot_) return verdict::refused_per_source;  // t's destructor gives the total back
  }
  out = std::move(t);
  return v;
}

bool admission_limits::attach_source(const asio::ip::address& source, const session_settings& settings, ticket& t) {
  source_slot slot = per_source_.try_acquire(source, settings.max_admitting_per_source);
  if (!slot) return false;
  t.slot_ = std::move(slot);
  return true;
}

}  // namespace zp::proxy
