// chaos (issue 13): sessions arrive open-loop at --rate per second for --duration, from
// all over 127.0.0.0/8, each with its own random life: 0 B to 16 MiB each way
// (log-uniform, so most are small and some are big), a random pause before each side ends
// its stream (so either half-closes first), and a fate:
//
//   clean (80 %):       every byte must arrive, in order, both ways (payload.hpp checks
//                       each one), then a clean end of stream each way;
//   reset_a / reset_b:  that side resets (SO_LINGER 0) at a random point mid-stream;
//   cut_a / cut_b:      that side stops reading at a random point, and 200 ms later goes
//                       away with unread bytes (a reset).
//
// The harness knows which sessions it broke. A clean session that loses or alters a
// byte, or does not end cleanly, is an error; a broken one must be closed on the other
// side within 1 s of the break, or it is an error. Progress on stderr every 2 s.

#include "bench/harness/payload.hpp"
#include "bench/harness/scenario.hpp"
#include "common/strings.hpp"

#include <asio/steady_timer.hpp>

#include <atomic>
#include <cmath>
#include <random>
#include <thread>

namespace zp::bench {
namespace {

using namespace std::chrono_literals;

constexpr std::size_t k_chunk = 64 * 1024;
constexpr std::uint64_t k_max_size = 16ull << 20;
constexpr auto k_close_bound = 1s;  // a broken session's other side must see it by then
constexpr auto k_cut_linger = 200ms;

enum class fate : std::uint8_t { clean, reset_a, reset_b, cut_a, cut_b };

struct shared_state {
  std::atomic<std::uint64_t> started{0}, finished{0}, clean_ok{0}, broken{0}, broken_closed_in_time{0};
  std::atomic<std::uint64_t> bytes_verified{0}, lost_or_altered{0};
  duration_samples close_after_break;
};

// One session's life. Lives on the session's io_context; every handler holds it alive.
class chaos_session : public std::enable_shared_from_this<chaos_session> {
 public:
  chaos_session(std::shared_ptr<session> s, run_context& c, shared_state& st, tracker& live, std::mt19937_64& rng)
      : s_(std::move(s)), c_(c), st_(st), live_(live), timer_(*s_->io) {
    auto size = [&] { return static_cast<std::uint64_t>(std::exp2(std::uniform_real_distribution<>(0, 24)(rng))) - 1; };
    for (int d = 0; d < 2; ++d) {
      dir_[d].size = std::min(size(), k_max_size);
      dir_[d].seed = payload::seed_for(s_->number, d);
      dir_[d].pause = std::chrono::milliseconds(rng() % 50);
    }
    const auto roll = rng() % 100;
    fate_ = roll < 80   ? fate::clean
            : roll < 85 ? fate::reset_a
            : roll < 90 ? fate::reset_b
            : roll < 95 ? fate::cut_a
                        : fate::cut_b;
    // The break comes after this many bytes have crossed in the breaker's sending
    // direction, or when it would have ended its stream.
    const int d = breaker_is_a() ? 0 : 1;
    break_at_ = dir_[d].size == 0 ? 0 : rng() % dir_[d].size;
  }

  void start() {
    for (int d = 0; d < 2; ++d) {
      write_more(d);
      read_more(d);
    }
    if (fate_ != fate::clean && dir_[breaker_is_a() ? 0 : 1].size == 0) schedule_break();
  }

 private:
  struct direction {
    std::uint64_t size = 0, seed = 0, sent = 0, received = 0;
    std::chrono::milliseconds pause{0};
    bool ended = false;  // the receiver saw the clean end
    std::vector<char> buf = std::vector<char>(k_chunk);
  };

  bool breaker_is_a() const { return fate_ == fate::reset_a || fate_ == fate::cut_a; }
  tls_conn& sender(int d) { return d == 0 ? *s_->a : *s_->b; }
  tls_conn& receiver(int d) { return d == 0 ? *s_->b : *s_->a; }
  bool broken() const { return broke_at_.has_value(); }

  void write_more(int d) {
    direction& x = dir_[d];
    if (broken() || stopped_writing_[d]) return;
    if (fate_ != fate::clean && !break_scheduled_ && d == (breaker_is_a() ? 0 : 1) && x.sent >= break_at_) {
      schedule_break();
    }
    if (x.sent == x.size) {
      // End this direction's stream after its pause, so either side may go first.
      auto t = std::make_shared<asio::steady_timer>(*s_->io, x.pause);
      t->async_wait([self = shared_from_this(), d, t](std::error_code) {
        if (self->broken()) return;
        self->sender(d).shutdown([self, d](std::error_code ec) {
          if (ec && !self->broken()) self->failure(str_cat("direction ", d, ": end of stream: ", describe(ec)));
        });
      });
      return;
    }
    const std::size_t n = static_cast<std::size_t>(std::min<std::uint64_t>(k_chunk, x.size - x.sent));
    sender(d).write(payload::at(x.seed, x.sent), n, [self = shared_from_this(), d, n](std::error_code ec) {
      if (ec) return self->on_io_error(/*on_a=*/d == 0, d, ec);
      self->dir_[d].sent += n;
      self->write_more(d);
    });
  }

  void read_more(int d) {
    direction& x = dir_[d];
    if (stopped_reading_[d]) return;
    receiver(d).read_some(
        x.buf.data(), x.buf.size(), [self = shared_from_this(), d](std::error_code ec, std::size_t n) {
          direction& x = self->dir_[d];
          if (n > 0) {
            if (!payload::verify(x.seed, x.received, x.buf.data(), n)) {
              self->st_.lost_or_altered.fetch_add(1);
              return self->failure(str_cat("direction ", d, ": bytes altered at offset ", x.received));
            }
            x.received += n;
            self->st_.bytes_verified.fetch_add(n, std::memory_order_relaxed);
          }
          const bool on_a = d == 1;  // the receiver of direction 1 is a
          if (ec == asio::error::eof) {
            if (self->broken()) return self->on_io_error(on_a, d, ec);
            if (x.received != x.size) {
              self->st_.lost_or_altered.fetch_add(1);
              return self->failure(
                  str_cat("direction ", d, ": clean end after ", x.received, " of ", x.size, " bytes"));
            }
            x.ended = true;
            return self->maybe_done();
          }
          if (ec) return self->on_io_error(on_a, d, ec);
          self->read_more(d);
        });
  }

  void schedule_break() {
    break_scheduled_ = true;
    if (fate_ == fate::reset_a || fate_ == fate::reset_b) return do_break();
    // cut: the breaker stops reading now, and goes away (unread bytes: a reset) soon.
    stopped_reading_[breaker_is_a() ? 1 : 0] = true;
    timer_.expires_after(k_cut_linger);
    timer_.async_wait([self = shared_from_this()](std::error_code) { self->do_break(); });
  }

  void do_break() {
    if (broken() || done_) return;
    broke_at_ = steady_clock::now();
    tls_conn& breaker = breaker_is_a() ? *s_->a : *s_->b;
    if (auto* sock = breaker.socket()) sock->reset();
    stopped_writing_[0] = stopped_writing_[1] = true;
    // PROTOCOL.md 3.5: the proxy passes a reset on as a reset. The other side may have
    // nothing pending (both its directions done), so watch its socket for the error too.
    tls_conn& other = breaker_is_a() ? *s_->b : *s_->a;
    if (auto* sock = other.socket()) {
      sock->socket().async_wait(asio::socket_base::wait_error, [self = shared_from_this()](std::error_code ec) {
        if (!ec) self->end_broken();
      });
    }
    // The other side must see it within k_close_bound.
    timer_.expires_after(k_close_bound);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec || self->done_) return;
      self->failure(str_cat("broken session not closed on the other side within ", k_close_bound.count(), " s"));
    });
  }

  // An error (or an end, after a break) on connection a (`on_a`) or b, in direction d.
  void on_io_error(bool on_a, int d, const std::error_code& ec) {
    if (broken()) {
      // The breaker's own operations fail because it reset its connection: expected.
      // On the other side, this is the break arriving: the end this session waits for.
      if (on_a == breaker_is_a()) return;
      return end_broken();
    }
    failure(str_cat("direction ", d, ": ", describe(ec)));
  }

  void maybe_done() {
    if (done_ || broken() || !dir_[0].ended || !dir_[1].ended) return;
    done_ = true;
    st_.clean_ok.fetch_add(1);
    finish();
  }

  void end_broken() {
    if (done_) return;
    done_ = true;
    timer_.cancel();
    st_.broken.fetch_add(1);
    st_.broken_closed_in_time.fetch_add(1);
    st_.close_after_break.add(steady_clock::now() - *broke_at_);
    finish();
  }

  void failure(const std::string& what) {
    if (done_) return;
    done_ = true;
    if (broken()) st_.broken.fetch_add(1);
    c_.errors.add(str_cat("chaos session ", s_->number, " (", fate_name(), "): ", what));
    finish();
  }

  void finish() {
    timer_.cancel();
    s_->a->close();
    s_->b->close();
    st_.finished.fetch_add(1);
    live_.done();
  }

  const char* fate_name() const {
    switch (fate_) {
      case fate::clean:
        return "clean";
      case fate::reset_a:
        return "reset by the endpoint";
      case fate::reset_b:
        return "reset by the module server";
      case fate::cut_a:
        return "cut by the endpoint";
      case fate::cut_b:
        return "cut by the module server";
    }
    return "?";
  }

  std::shared_ptr<session> s_;
  run_context& c_;
  shared_state& st_;
  tracker& live_;
  asio::steady_timer timer_;
  direction dir_[2];  // 0: a (endpoint) -> b, 1: b -> a
  fate fate_ = fate::clean;
  std::uint64_t break_at_ = 0;
  bool break_scheduled_ = false;
  bool stopped_reading_[2] = {false, false};  // by direction: its receiver stopped
  bool stopped_writing_[2] = {false, false};
  std::optional<steady_clock::time_point> broke_at_;
  bool done_ = false;
};

void start_one(run_context& c, shared_state& st, tracker& live) {
  live.add();
  st.started.fetch_add(1);
  asio::io_context& io = c.pool.next();
  on(io, [&c, &st, &live, &io] {
    c.t.open(io, [&c, &st, &live](const std::shared_ptr<session>& s, const open_timing&) {
      if (!s) {
        st.finished.fetch_add(1);
        return live.done();  // counted by the target's error log
      }
      thread_local std::mt19937_64 rng{std::random_device{}()};
      std::make_shared<chaos_session>(s, c, st, live, rng)->start();
    });
  });
}

}  // namespace

scenario_result run_chaos(run_context& c) {
  shared_state st;
  tracker live;
  const auto t0 = steady_clock::now();
  const auto end = t0 + c.o.duration();
  std::uint64_t started = 0;
  auto next_progress = t0 + 2s;
  for (auto now = t0; now < end; now = steady_clock::now()) {
    const auto due = static_cast<std::uint64_t>(seconds_between(t0, now) * c.o.rate);
    for (; started < due; ++started) start_one(c, st, live);
    if (now >= next_progress) {
      next_progress += 2s;
      std::fprintf(
          stderr, "chaos: %.0f s: %llu sessions started, %llu finished, %llu clean, %llu broken, %llu errors\n",
          seconds_between(t0, now), static_cast<unsigned long long>(st.started.load()),
          static_cast<unsigned long long>(st.finished.load()), static_cast<unsigned long long>(st.clean_ok.load()),
          static_cast<unsigned long long>(st.broken.load()), static_cast<unsigned long long>(c.errors.count()));
    }
    std::this_thread::sleep_for(5ms);
  }
  // Sessions still running finish on their own (16 MiB at most each way).
  live.wait_ended(c.errors, "chaos", "sessions", 60s, "the last arrival");
  scenario_result r;
  r.params["rate"] = c.o.rate;
  r.metrics["sessions"] = st.started.load();
  r.metrics["clean"] = st.clean_ok.load();
  r.metrics["broken_on_purpose"] = st.broken.load();
  r.metrics["broken_closed_within_1s"] = st.broken_closed_in_time.load();
  r.metrics["close_after_break_p99_ms"] = st.close_after_break.quantile_us(0.99) / 1000;
  r.metrics["bytes_verified"] = st.bytes_verified.load();
  r.metrics["lost_or_altered"] = st.lost_or_altered.load();
  r.summary.push_back(
      fmt::format("{} sessions at {}/s: {} clean, {} broken on purpose ({} closed on the other side "
                  "within 1 s, p99 {:.1f} ms)",
                  st.started.load(), c.o.rate, st.clean_ok.load(), st.broken.load(), st.broken_closed_in_time.load(),
                  r.metrics["close_after_break_p99_ms"].get<double>()));
  r.summary.push_back(fmt::format("{} bytes verified, {} sessions lost or altered bytes", st.bytes_verified.load(),
                                  st.lost_or_altered.load()));
  return r;
}

}  // namespace zp::bench
