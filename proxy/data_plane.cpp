#include "proxy/data_plane.hpp"

#include "proxy/half_connection.hpp"
#include "proxy/relay_session.hpp"

#include <spdlog/spdlog.h>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <future>
#include <thread>

namespace zp::proxy {

data_plane::data_plane(worker_pool& workers) : workers_(workers) {}

data_plane::~data_plane() { stop(); }

absl::Status data_plane::start(std::shared_ptr<const data_plane_config> config) {
  if (running_) return absl::FailedPreconditionError("data plane already running");
  shared_.config.store(config);
  shared_.draining.store(false);
  shared_.table = std::make_unique<session_table>(config->settings.max_pending);
  shards_.clear();
  shared_.shards.clear();
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    shards_.push_back(std::make_unique<worker_shard>(workers_.at(i).io(), static_cast<unsigned>(i), shared_));
    shared_.shards.push_back(shards_.back().get());
  }
  // Bind everything before accepting anything, so a port conflict changes nothing.
  // With port 0 (tests), the first worker picks the port and the others join it.
  data_plane_config bound = *config;
  for (auto& shard : shards_) {
    if (auto st = shard->bind(bound); !st.ok()) {
      shards_.clear();  // closes the acceptors bound so far; none has started
      shared_.shards.clear();
      return st;
    }
    std::tie(bound.endpoint_port, bound.module_server_port) = shard->bound_ports();
  }
  for (auto& shard : shards_) shard->start();
  running_ = true;
  return absl::OkStatus();
}

void data_plane::update(std::shared_ptr<const data_plane_config> config) {
  shared_.config.store(std::move(config), std::memory_order_release);
}

std::pair<std::uint16_t, std::uint16_t> data_plane::ports() const {
  return shards_.empty() ? std::pair<std::uint16_t, std::uint16_t>{0, 0} : shards_.front()->bound_ports();
}

std::uint64_t data_plane::held() const {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->session_count() + s->half_count();
  return n;
}

void data_plane::run_on_all(const std::function<void(worker_shard&)>& fn) {
  std::vector<std::future<void>> done;
  for (auto& shard : shards_) {
    auto task = std::make_shared<std::packaged_task<void()>>([&fn, s = shard.get()] { fn(*s); });
    done.push_back(task->get_future());
    asio::post(shard->io(), [task] { (*task)(); });
  }
  for (auto& f : done) f.wait();
}

void data_plane::drain(asio::io_context& timers, std::function<void()> done) {
  if (!running_) {
    asio::post(timers, std::move(done));
    return;
  }
  shared_.draining.store(true, std::memory_order_release);
  run_on_all([](worker_shard& s) { s.begin_drain(); });
  const auto deadline = std::chrono::steady_clock::now() + shared_.config.load()->drain_timeout;
  auto timer = std::make_shared<asio::steady_timer>(timers);
  auto poll = std::make_shared<std::function<void()>>();
  // Polls rather than counts down: sessions end on their own workers and the 100 ms
  // granularity is irrelevant next to a drain timeout of seconds.
  *poll = [this, timer, poll, deadline, done = std::move(done)] {
    if (live_sessions() == 0 || std::chrono::steady_clock::now() >= deadline) {
      if (live_sessions() > 0) spdlog::info("event=drain_timeout sessions_closed={}", live_sessions());
      stop();
      done();
      *poll = nullptr;  // break the self-reference
      return;
    }
    timer->expires_after(std::chrono::milliseconds(100));
    timer->async_wait([poll](std::error_code ec) {
      if (!ec && *poll) (*poll)();
    });
  };
  (*poll)();
}

void data_plane::wait_until_released() {
  // Deletions are deferred onto each worker; wait until they have all run, then let
  // every worker run one more task so aborted accept handlers are gone too.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (held() > 0 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (held() > 0) spdlog::error("event=stop_incomplete connections_left={}", held());
  run_on_all([](worker_shard&) {});
}

void data_plane::stop() {
  if (!running_) return;
  running_ = false;
  run_on_all([](worker_shard& s) { s.close_all(); });
  wait_until_released();
  shards_.clear();
  shared_.shards.clear();
  shared_.table.reset();
}

}  // namespace zp::proxy
