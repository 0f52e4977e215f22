#pragma once
// The harness's I/O threads (--threads): one asio::io_context per thread, sessions
// spread round-robin. A session lives on one context for its whole life, so its two
// connections and its state are only ever touched by one thread.

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <atomic>
#include <memory>
#include <thread>
#include <vector>

namespace zp::bench {

class io_pool {
 public:
  explicit io_pool(unsigned threads);
  ~io_pool();
  io_pool(const io_pool&) = delete;
  io_pool& operator=(const io_pool&) = delete;

  /// The next context, round-robin (any thread).
  asio::io_context& next();
  asio::io_context& at(std::size_t i) { return *contexts_[i]; }
  std::size_t size() const { return contexts_.size(); }
  /// Starts the threads.
  void start();
  /// Stops every context (pending handlers are dropped) and joins the threads.
  void stop();

 private:
  using guard = asio::executor_work_guard<asio::io_context::executor_type>;
  std::vector<std::unique_ptr<asio::io_context>> contexts_;
  std::vector<guard> guards_;
  std::vector<std::thread> threads_;
  std::atomic<std::size_t> next_{0};
};

}  // namespace zp::bench
