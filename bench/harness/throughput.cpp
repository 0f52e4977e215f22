// throughput: C sessions, each streaming payload in one direction (a -> b: endpoint ->
// Module Server, client -> backend) or both, for --duration. The rate counts bytes
// received and verified inside the measurement window (after every session is open);
// CPU s/GB is the process under test's utime + stime over that window.
//
// Hot path: writes go straight from the payload pattern (no copy) with try_write, many
// chunks per readiness event; reads decrypt as many records as are ready into a 256 KiB
// buffer with try_read and memcmp them against the pattern. At the stop, each writer
// sends close_notify + FIN, each reader reads to the end and checks it received exactly
// what was sent.

#include "bench/harness/payload.hpp"
#include "bench/harness/proc_stats.hpp"
#include "bench/harness/scenario.hpp"
#include "common/strings.hpp"

#include <asio/error.hpp>

#include <atomic>
#include <thread>

namespace zp::bench {
namespace {

constexpr std::size_t k_read_buffer = 256 * 1024;
// Chunks written (or reads done) per turn before yielding the thread to other handlers.
constexpr int k_burst = 32;

struct shared_state {
  std::atomic<std::uint64_t> received{0};  // verified bytes, all sessions
  std::atomic<bool> stopping{false};
};

class stream_session : public std::enable_shared_from_this<stream_session> {
 public:
  stream_session(std::shared_ptr<session> s, run_context& c, shared_state& st, tracker& live)
      : s_(std::move(s)), c_(c), st_(st), live_(live) {
    for (int d = 0; d < 2; ++d) {
      dir_[d].seed = payload::seed_for(s_->number, d);
      dir_[d].active = d == 0 || c.o.both_directions;
      dir_[d].buffer.resize(k_read_buffer);
    }
  }

  void start() {
    for (int d = 0; d < 2; ++d) {
      if (dir_[d].active) write(d);
      read(d);
    }
  }

  asio::io_context& io() const { return *s_->io; }

  /// Where an unfinished session stands, for the error report.
  std::string state() const {
    std::string out = str_cat("session ", s_->id.substr(0, 8), ":");
    for (int d = 0; d < 2; ++d) {
      const direction& dir = dir_[d];
      str_append(out, " ", name(d), " sent ", dir.sent, " received ", dir.received, dir.write_pending ? " pending" : "",
                 dir.write_ended ? " write-ended" : "", dir.read_ended ? " read-ended" : "");
    }
    return out;
  }
  bool finished() const { return finished_ || failed_; }

  // Runs on the session's context once the main thread decided to stop.
  void stop() {
    for (int d = 0; d < 2; ++d) {
      if (!dir_[d].active) end_write(d);  // an idle direction ends at once
    }
  }

 private:
  struct direction {
    std::uint64_t seed = 0;
    bool active = false;
    std::uint64_t sent = 0, received = 0;
    bool write_pending = false, write_ended = false, read_ended = false;
    std::vector<char> buffer;
  };

  tls_conn& writer(int d) { return d == 0 ? *s_->a : *s_->b; }
  tls_conn& reader(int d) { return d == 0 ? *s_->b : *s_->a; }
  const char* name(int d) const { return d == 0 ? "a->b" : "b->a"; }

  void write(int d) {
    direction& dir = dir_[d];
    zp::tls_socket& sock = *writer(d).socket();
    for (int i = 0; i < k_burst; ++i) {
      // A record OpenSSL has started to send (the last SSL_write wanted a retry) is
      // finished before the close_notify; its bytes count once the retry succeeds.
      if (st_.stopping.load(std::memory_order_relaxed) && !dir.write_pending) return end_write(d);
      // A retry repeats the same bytes (same offset): what OpenSSL requires of a retried
      // SSL_write.
      auto r = sock.try_write(payload::at(dir.seed, dir.sent), c_.o.message_size);
      dir.sent += r.bytes;
      if (r.ec) return fail(str_cat(name(d), ": write: ", describe(r.ec)));
      dir.write_pending = r.wait != zp::tls_socket::want::nothing;
      if (dir.write_pending) {
        sock.async_wait(r.wait, [self = shared_from_this(), d](std::error_code ec) {
          if (ec) return self->fail(str_cat(self->name(d), ": write wait: ", describe(ec)));
          self->write(d);
        });
        return;
      }
    }
    asio::post(*s_->io, [self = shared_from_this(), d] { self->write(d); });
  }

  void end_write(int d) {
    if (dir_[d].write_ended || failed_) return;
    dir_[d].write_ended = true;
    writer(d).shutdown([self = shared_from_this(), d](std::error_code ec) {
      if (ec) return self->fail(str_cat(self->name(d), ": close_notify: ", describe(ec)));
      self->maybe_done();
    });
  }

  void read(int d) {
    direction& dir = dir_[d];
    tls_conn& conn = reader(d);
    if (conn.has_leftover()) {  // relayed bytes that came with the 101
      const std::string first = conn.take_leftover();
      if (!consume(d, first.data(), first.size())) return;
    }
    zp::tls_socket& sock = *conn.socket();
    for (int i = 0; i < k_burst; ++i) {
      auto r = sock.try_read(dir.buffer.data(), dir.buffer.size());
      if (r.bytes > 0) {
        if (!consume(d, dir.buffer.data(), r.bytes)) return;
        continue;
      }
      if (r.ec == asio::error::eof) {
        // The writer is in this process: the end must come after exactly what it sent.
        if (dir.received != dir.sent) {
          return fail(str_cat(name(d), ": end of stream after ", dir.received, " bytes, ", dir.sent, " were sent"));
        }
        dir.read_ended = true;
        return maybe_done();
      }
      if (r.ec) return fail(str_cat(name(d), ": read: ", describe(r.ec)));
      sock.async_wait(r.wait, [self = shared_from_this(), d](std::error_code ec) {
        if (ec) return self->fail(str_cat(self->name(d), ": read wait: ", describe(ec)));
        self->read(d);
      });
      return;
    }
    asio::post(*s_->io, [self = shared_from_this(), d] { self->read(d); });
  }

  bool consume(int d, const char* data, std::size_t n) {
    direction& dir = dir_[d];
    if (!dir.active) {
      fail(str_cat(name(d), ": ", n, " bytes on the idle direction"));
      return false;
    }
    if (!payload::verify(dir.seed, dir.received, data, n)) {
      fail(str_cat(name(d), ": payload mismatch in stream bytes ", dir.received, "..", dir.received + n));
      return false;
    }
    dir.received += n;
    st_.received.fetch_add(n, std::memory_order_relaxed);
    return true;
  }

  void maybe_done() {
    if (finished_ || failed_) return;
    for (const auto& dir : dir_) {
      if (!dir.write_ended || !dir.read_ended) return;
    }
    finished_ = true;
    s_->a->close();
    s_->b->close();
    live_.done();
  }

  void fail(std::string what) {
    if (finished_ || failed_) return;
    failed_ = true;
    c_.errors.add(std::move(what));
    s_->a->close();
    s_->b->close();
    live_.done();
  }

  std::shared_ptr<session> s_;
  run_context& c_;
  shared_state& st_;
  tracker& live_;
  direction dir_[2];
  bool finished_ = false, failed_ = false;
};

}  // namespace

scenario_result run_throughput(run_context& c) {
  shared_state st;
  tracker live;
  std::mutex mu;
  std::vector<std::shared_ptr<stream_session>> sessions;  // guarded by mu
  open_sessions(c, [&](const std::shared_ptr<session>& s) {
    auto ss = std::make_shared<stream_session>(s, c, st, live);
    live.add();
    {
      std::lock_guard lock(mu);
      sessions.push_back(ss);
    }
    ss->start();
  });

  // The window: every session open and streaming.
  const auto cpu0 = cpu_seconds(c.o.proxy_pids);
  const auto t0 = steady_clock::now();
  const std::uint64_t bytes0 = st.received.load();
  std::this_thread::sleep_for(c.o.duration());
  const std::uint64_t bytes1 = st.received.load();
  const auto t1 = steady_clock::now();
  const auto cpu1 = cpu_seconds(c.o.proxy_pids);

  st.stopping.store(true);
  {
    std::lock_guard lock(mu);
    for (auto& ss : sessions) on(ss->io(), [ss] { ss->stop(); });
  }
  if (!live.wait_ended(c.errors, "throughput")) {
    std::lock_guard lock(mu);
    for (auto& ss : sessions) {
      auto asked = std::make_shared<tracker>();  // shared: the answer may come after the wait gave up
      asked->add();
      on(ss->io(), [&c, asked, ss] {
        if (!ss->finished()) c.errors.add(ss->state());
        asked->done();
      });
      asked->wait_idle(steady_clock::now() + std::chrono::seconds(1));
    }
  }

  const std::uint64_t bytes = bytes1 - bytes0;
  const double secs = seconds_between(t0, t1);
  const double mb_per_s = secs > 0 ? static_cast<double>(bytes) / secs / 1e6 : 0;
  scenario_result r;
  r.metrics["mb_per_s"] = mb_per_s;
  r.metrics["bytes"] = bytes;
  r.metrics["cpu_s_per_gb"] = nullptr;
  if (cpu0 && cpu1 && bytes > 0) r.metrics["cpu_s_per_gb"] = (*cpu1 - *cpu0) / (static_cast<double>(bytes) / 1e9);
  r.summary.push_back(fmt::format("{:.1f} MB/s over {} sessions ({} bytes verified in {:.2f} s)", mb_per_s,
                                  sessions.size(), bytes, secs));
  if (!r.metrics["cpu_s_per_gb"].is_null()) {
    r.summary.push_back(fmt::format("process under test: {:.3f} CPU s per GB ({:.2f} CPU s)",
                                    r.metrics["cpu_s_per_gb"].get<double>(), *cpu1 - *cpu0));
  }
  return r;
}

}  // namespace zp::bench
