#pragma once
// A data-plane worker: one thread running one io_context (ARCHITECTURE.md "Who owns
// what"). Owner of everything that runs on that thread; other threads reach it
// only by posting to its io_context.

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace zp::proxy {

class worker {
 public:
  explicit worker(unsigned index);
  worker(const worker&) = delete;
  worker& operator=(const worker&) = delete;
  ~worker();

  /// Starts the thread; the io_context runs until stop().
  void start();
  /// Lets the io_context finish (its work guard is dropped) and stops it.
  void stop();
  void join();

  asio::io_context& io() { return io_; }
  unsigned index() const { return index_; }

 private:
  const unsigned index_;
  // One thread runs this context: handlers on it need no locks among themselves.
  asio::io_context io_{1};
  std::optional<asio::executor_work_guard<asio::io_context::executor_type>> guard_;
  std::thread thread_;
};

/// The workers, created together and stopped together.
class worker_pool {
 public:
  explicit worker_pool(unsigned count);
  void start();
  void stop();
  void join();
  std::size_t size() const { return workers_.size(); }
  worker& at(std::size_t i) { return *workers_[i]; }

 private:
  std::vector<std::unique_ptr<worker>> workers_;
};

}  // namespace zp::proxy
