#include "bench/harness/io_pool.hpp"

namespace zp::bench {

io_pool::io_pool(unsigned threads) {
  for (unsigned i = 0; i < threads; ++i) {
    // Concurrency hint 1: each context is run by exactly one thread.
    contexts_.push_back(std::make_unique<asio::io_context>(1));
    guards_.emplace_back(contexts_.back()->get_executor());
  }
}

io_pool::~io_pool() { stop(); }

asio::io_context& io_pool::next() { return *contexts_[next_.fetch_add(1, std::memory_order_relaxed) % size()]; }

void io_pool::start() {
  for (auto& io : contexts_) threads_.emplace_back([ctx = io.get()] { ctx->run(); });
}

void io_pool::stop() {
  guards_.clear();
  for (auto& io : contexts_) io->stop();
  for (auto& t : threads_) t.join();
  threads_.clear();
}

}  // namespace zp::bench
