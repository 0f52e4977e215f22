#pragma once
// Relay buffers (k_relay_buffer bytes) for one worker, taken only while bytes are in
// flight so an idle session holds none (ARCHITECTURE.md "The path of one relayed byte"). Single
// threaded: only its worker touches it. Keeps up to k_max_free buffers for reuse and
// frees the rest, so a burst does not pin memory forever.

#include <cstddef>
#include <memory>
#include <vector>

namespace zp::proxy {

class buffer_pool {
 public:
  using buffer = std::unique_ptr<char[]>;
  static constexpr std::size_t k_max_free = 64;

  explicit buffer_pool(std::size_t size) : size_(size) {}
  buffer acquire() {
    if (free_.empty()) return buffer(new char[size_]);
    buffer b = std::move(free_.back());
    free_.pop_back();
    return b;
  }
  void release(buffer b) {
    if (b && free_.size() < k_max_free) free_.push_back(std::move(b));
  }
  std::size_t size() const { return size_; }
  /// Buffers kept for reuse now.
  std::size_t free_count() const { return free_.size(); }

 private:
  std::size_t size_;
  std::vector<buffer> free_;
};

}  // namespace zp::proxy
