#include "proxy/worker.hpp"

#include <spdlog/spdlog.h>

#include <pthread.h>

#include <exception>

namespace zp::proxy {

worker::worker(unsigned index) : index_(index) {}

worker::~worker() {
  stop();
  join();
}

void worker::start() {
  guard_.emplace(io_.get_executor());
  thread_ = std::thread([this] {
    std::string name = "zp-worker-" + std::to_string(index_);
    pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
    // No exception is expected on the data path (error_code everywhere); one escaping
    // a handler is a bug, and a dead worker would strand its sessions, so fail loudly.
    try {
      io_.run();
    } catch (const std::exception& e) {
      spdlog::critical("event=worker_crashed worker={} error={}", index_, e.what());
      std::terminate();
    }
  });
}

void worker::stop() {
  guard_.reset();
  io_.stop();
}

void worker::join() {
  if (thread_.joinable()) thread_.join();
}

worker_pool::worker_pool(unsigned count) {
  for (unsigned i = 0; i < count; ++i) workers_.push_back(std::make_unique<worker>(i));
}

void worker_pool::start() {
  // spdlog makes its registry on first use. Make it here, before there are workers: two
  // workers logging their first lines at once (the refusal lines a stop flushes) would
  // otherwise both reach its construction, which TSan cannot see guarded inside the
  // uninstrumented library. The daemon's log::init does it earlier anyway.
  spdlog::default_logger_raw();
  for (auto& w : workers_) w->start();
}

void worker_pool::stop() {
  for (auto& w : workers_) w->stop();
}

void worker_pool::join() {
  for (auto& w : workers_) w->join();
}

}  // namespace zp::proxy
