// Relay buffers: reused while a worker is busy, bounded when it is not.

#include "proxy/buffer_pool.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace zp::proxy {
namespace {

TEST(BufferPool, AReleasedBufferIsHandedOutAgain) {
  buffer_pool pool(1024);
  auto b = pool.acquire();
  char* raw = b.get();
  pool.release(std::move(b));
  EXPECT_EQ(pool.acquire().get(), raw);
  EXPECT_EQ(pool.size(), 1024u);
}

TEST(BufferPool, KeepsAtMostMaxFreeBuffersAfterABurst) {
  buffer_pool pool(16);
  std::vector<buffer_pool::buffer> burst;
  for (std::size_t i = 0; i < buffer_pool::k_max_free + 10; ++i) burst.push_back(pool.acquire());
  for (auto& b : burst) pool.release(std::move(b));
  EXPECT_EQ(pool.free_count(), buffer_pool::k_max_free) << "the rest of the burst is freed, not pinned";
}

TEST(BufferPool, ReleasingAnEmptyBufferKeepsNothing) {
  buffer_pool pool(16);
  pool.release({});
  EXPECT_EQ(pool.free_count(), 0u);
}

}  // namespace
}  // namespace zp::proxy
