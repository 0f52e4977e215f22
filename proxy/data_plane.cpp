#include "proxy/data_plane.hpp"

#include "common/acceptor.hpp"
#include "common/process_stats.hpp"
#include "common/tls_socket.hpp"

#include "proxy/half_connection.hpp"
#include "proxy/relay_session.hpp"
#include "proxy/worker_shard.hpp"

#include <spdlog/spdlog.h>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>

#include <algorithm>
#include <future>
#include <thread>
#include <tuple>

namespace zp::proxy {

data_plane::data_plane(worker_pool& workers) : workers_(workers) {}

data_plane::~data_plane() { stop(); }

absl::Status data_plane::start(const std::shared_ptr<const data_plane_config>& config) {
  if (running_) return absl::FailedPreconditionError("data plane already running");
  shared_.config.store(config);
  shared_.draining.store(false);
  // The table is sized once: for max_pending, or for as many halves as there can be
  // descriptors (a waiting half holds one), whichever is larger, so PUT /v1/settings can
  // raise max_pending up to what the process can hold without a new table.
  const std::uint64_t fds = fd_limit();
  shared_.table = std::make_unique<half_table>(
      std::max<std::uint64_t>(config->settings.max_pending, std::min<std::uint64_t>(fds, k_max_table_capacity)));
  shared_.admit.set_fd_budget(fds, open_fd_count() - std::min(open_fd_count(), open_tls_connections()));
  shards_.clear();
  std::vector<worker_shard*> every_shard;
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    shards_.push_back(std::make_unique<worker_shard>(workers_.at(i).io(), static_cast<unsigned>(i), shared_));
    every_shard.push_back(shards_.back().get());
  }
  // Bind everything before accepting anything, so a port conflict changes nothing.
  // With port 0 (tests), the first worker picks the port and the others join it. Without
  // port sharing, the first worker's listeners accept for every worker.
  data_plane_config bound = *config;
  const bool shared_ports = port_sharing_supported();
  for (auto& shard : shards_) {
    if (!shared_ports && shard != shards_.front()) continue;
    auto st = shared_ports ? shard->bind(bound) : shard->bind(bound, every_shard);
    if (!st.ok()) {
      shards_.clear();  // closes the acceptors bound so far; none has started
      return st;
    }
    std::tie(bound.endpoint_port, bound.module_server_port) = shard->bound_ports();
  }
  shared_.shards = every_shard;
  for (auto& shard : shards_) shard->start();
  running_ = true;
  return absl::OkStatus();
}

void data_plane::update(std::shared_ptr<const data_plane_config> config) {
  const keepalive_settings k = config->settings.keepalive;
  const auto before = shared_.config.exchange(std::move(config), std::memory_order_acq_rel);
  if (running_ && (before == nullptr || before->settings.keepalive != k)) {
    // Where connections inherit the options from their listener, the listeners change
    // (each on its worker); live connections keep what they were accepted with.
    for (auto& shard : shards_) asio::post(shard->io(), [s = shard.get(), k] { s->apply_keepalive(k); });
  }
}

std::pair<std::uint16_t, std::uint16_t> data_plane::ports() const {
  return shards_.empty() ? std::pair<std::uint16_t, std::uint16_t>{0, 0} : shards_.front()->bound_ports();
}

std::uint64_t data_plane::held() const {
  std::uint64_t n = 0;
  for (const auto& s : shards_) n += s->session_count() + s->half_count();
  return n;
}

plane_stats data_plane::stats() const {
  plane_stats out;
  out.running = running_;
  out.gauges[gauge_cell(gauge::sessions_active)] = live_sessions();
  for (role r : {role::endpoint, role::module_server}) {
    out.gauges[gauge_cell(gauge::sessions_waiting, std::size_t(r))] = waiting(r);
  }
  out.gauges[gauge_cell(gauge::admitting)] = shared_.admit.admitting();
  out.gauges[gauge_cell(gauge::early_data_bytes)] = shared_.admit.early_data_bytes();
  for (const auto& shard : shards_) {
    plane_stats::worker& w = out.workers.emplace_back();
    const worker_counters& c = shard->counters();
    w.index = shard->index();
    w.live_sessions = shard->session_count();
    w.connections_in_setup = shard->half_count();
    for (std::size_t i = 0; i < k_counter_cells; ++i) w.cells[i] = c.get(i);
    for (std::size_t h = 0; h < w.histograms.size(); ++h) w.histograms[h] = c.histogram(histogram_id(h));
  }
  return out;
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

std::vector<session_info> data_plane::list_sessions() {
  std::vector<std::vector<session_info>> per(shards_.size());
  run_on_all([&per](worker_shard& s) { per[s.index()] = s.list_sessions(); });
  std::vector<session_info> out;
  for (auto& v : per) out.insert(out.end(), std::make_move_iterator(v.begin()), std::make_move_iterator(v.end()));
  return out;
}

std::vector<session_id> data_plane::find_by_prefix(std::string_view prefix) {
  std::vector<std::vector<session_id>> per(shards_.size());
  run_on_all([&per, prefix](worker_shard& s) { per[s.index()] = s.find_by_prefix(prefix); });
  std::vector<session_id> out;
  for (auto& v : per) out.insert(out.end(), v.begin(), v.end());
  // Both halves of a live session are one session; a waiting half is listed once.
  std::sort(out.begin(), out.end(),
            [](const auto& a, const auto& b) { return std::tie(a.hi, a.lo) < std::tie(b.hi, b.lo); });
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

bool data_plane::kill(const session_id& id) {
  std::vector<char> found(shards_.size(), 0);
  run_on_all([&found, &id](worker_shard& s) { found[s.index()] = s.kill(id) ? 1 : 0; });
  return std::find(found.begin(), found.end(), 1) != found.end();
}

std::size_t data_plane::close_revoked(const std::string& cert_sha256) {
  std::vector<std::size_t> closed(shards_.size(), 0);
  run_on_all([&closed, &cert_sha256](worker_shard& s) { closed[s.index()] = s.close_revoked(cert_sha256); });
  std::size_t n = 0;
  for (auto c : closed) n += c;
  return n;
}

std::size_t data_plane::close_untrusted(const certificate_test& still_trusted) {
  std::vector<std::size_t> closed(shards_.size(), 0);
  run_on_all([&closed, &still_trusted](worker_shard& s) { closed[s.index()] = s.close_untrusted(still_trusted); });
  std::size_t n = 0;
  for (auto c : closed) n += c;
  return n;
}

std::vector<error_record> data_plane::recent_errors() {
  std::vector<std::vector<error_record>> per(shards_.size());
  run_on_all([&per](worker_shard& s) { per[s.index()] = s.recent_errors(); });
  std::vector<error_record> out;
  for (auto& v : per) out.insert(out.end(), v.begin(), v.end());
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.time < b.time; });
  if (out.size() > worker_shard::k_recent_errors) {
    out.erase(out.begin(), out.end() - static_cast<std::ptrdiff_t>(worker_shard::k_recent_errors));
  }
  return out;
}

void data_plane::drain(asio::io_context& timers, std::function<void()> done) {
  if (!running_) {
    asio::post(timers, std::move(done));
    return;
  }
  shared_.draining.store(true, std::memory_order_release);
  run_on_all([](worker_shard& s) { s.begin_drain(); });
  // Polls rather than counts down: sessions end on their own workers and a 100 ms
  // granularity is irrelevant next to a drain timeout of seconds.
  struct poller : std::enable_shared_from_this<poller> {
    data_plane* plane;
    asio::steady_timer timer;
    std::chrono::steady_clock::time_point deadline;
    std::function<void()> done;
    poller(data_plane* p, asio::io_context& io, std::chrono::steady_clock::time_point d, std::function<void()> f)
        : plane(p), timer(io), deadline(d), done(std::move(f)) {}
    void poll() {
      if (plane->live_sessions() == 0 || std::chrono::steady_clock::now() >= deadline) {
        if (plane->live_sessions() > 0) spdlog::info("event=drain_timeout sessions_closed={}", plane->live_sessions());
        plane->stop();
        done();
        return;  // the last reference (this handler's) goes away after this
      }
      timer.expires_after(std::chrono::milliseconds(100));
      timer.async_wait([self = shared_from_this()](std::error_code ec) {
        if (!ec) self->poll();
      });
    }
  };
  auto p = std::make_shared<poller>(
      this, timers, std::chrono::steady_clock::now() + shared_.config.load()->drain_timeout, std::move(done));
  p->poll();
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
  shared_.shards.clear();
  shards_.clear();
  shared_.table.reset();
}

}  // namespace zp::proxy
