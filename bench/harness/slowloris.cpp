// slowloris (issue 12): what a host that never finishes costs everybody else. Two phases
// of --duration seconds each, in one run: first without an attack, then with --count
// slow connections held against 17486, 17487 and 17488 (nine in ten on the data ports,
// one in ten on 17488) from many source addresses of 127.0.0.0/8, half silent after a
// TLS record header, half dripping a byte a second; each one the proxy closes is opened
// again (after 100 ms), so the attack holds its count as well as the proxy lets it. In
// both phases: pairing latency (second hello -> both 101s) on --connections loops, and the
// operator's GET /v1/status on 17488 (new connection, client certificate) every 100 ms.

#include "bench/harness/scenario.hpp"
#include "common/atomic_file.hpp"
#include "common/strings.hpp"
#include "common/tls_policy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include <algorithm>
#include <atomic>
#include <thread>

namespace zp::bench {
namespace {

using namespace std::chrono_literals;

// A TLS handshake record header announcing 512 bytes that never (or slowly) come.
constexpr unsigned char k_record_header[] = {0x16, 0x03, 0x01, 0x02, 0x00};
constexpr auto k_reconnect_pause = 100ms;
constexpr auto k_drip_interval = 1s;
constexpr auto k_status_interval = 100ms;

struct attack_state {
  std::atomic<bool> running{true};
  std::atomic<std::uint64_t> held{0}, opened{0}, closed_by_proxy{0};
};

// One slow connection, reopened whenever the proxy closes it. Lives on one io_context.
class slow_conn : public std::enable_shared_from_this<slow_conn> {
 public:
  slow_conn(asio::io_context& io, asio::ip::tcp::endpoint to, asio::ip::address from, bool drip,
            std::shared_ptr<attack_state> st)
      : io_(io), socket_(io), timer_(io), to_(std::move(to)), from_(std::move(from)), drip_(drip), st_(std::move(st)) {}

  asio::io_context& io() { return io_; }

  void start() {
    if (!st_->running) return;
    std::error_code ec;
    socket_ = asio::ip::tcp::socket(socket_.get_executor());
    socket_.open(asio::ip::tcp::v4(), ec);
    if (!ec) socket_.bind({from_, 0}, ec);
    if (ec) return retry();
    socket_.async_connect(to_, [self = shared_from_this()](std::error_code e) { self->on_connect(e); });
  }
  void stop() {
    std::error_code ignored;
    timer_.cancel();
    socket_.close(ignored);
  }

 private:
  void on_connect(std::error_code ec) {
    if (ec) return retry();
    st_->opened.fetch_add(1, std::memory_order_relaxed);
    st_->held.fetch_add(1, std::memory_order_relaxed);
    connected_ = true;
    asio::write(socket_, asio::buffer(k_record_header), ec);
    socket_.async_read_some(asio::buffer(sink_),
                            [self = shared_from_this()](std::error_code e, std::size_t) { self->on_closed(e); });
    if (drip_) drip();
  }
  void drip() {
    timer_.expires_after(k_drip_interval);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (ec || !self->connected_) return;
      const char byte = 0x01;
      std::error_code ignored;
      asio::write(self->socket_, asio::buffer(&byte, 1), ignored);
      self->drip();
    });
  }
  void on_closed(std::error_code ec) {
    // Whatever came back (an alert, EOF, a reset), the proxy is done with us.
    if (ec == asio::error::operation_aborted && !st_->running) return;  // stop()
    if (connected_) {
      connected_ = false;
      st_->held.fetch_sub(1, std::memory_order_relaxed);
      st_->closed_by_proxy.fetch_add(1, std::memory_order_relaxed);
    }
    timer_.cancel();
    std::error_code ignored;
    socket_.close(ignored);
    retry();
  }
  void retry() {
    if (!st_->running) return;
    timer_.expires_after(k_reconnect_pause);
    timer_.async_wait([self = shared_from_this()](std::error_code ec) {
      if (!ec) self->start();
    });
  }

  asio::io_context& io_;
  asio::ip::tcp::socket socket_;
  asio::steady_timer timer_;
  asio::ip::tcp::endpoint to_;
  asio::ip::address from_;
  bool drip_;
  bool connected_ = false;
  // Shared: handlers may still run after the scenario returned, until the pool stops.
  std::shared_ptr<attack_state> st_;
  std::array<char, 512> sink_{};
};

// The operator: one blocking HTTPS request per probe, on a new connection, as a
// zoneproxyctl would. Returns the time it took, or nullopt on failure.
std::optional<std::chrono::nanoseconds> probe_status(SSL_CTX* ctx, const asio::ip::tcp::endpoint& at) {
  const auto start = steady_clock::now();
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return std::nullopt;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(at.port());
  addr.sin_addr.s_addr = htonl(at.address().to_v4().to_uint());
  std::optional<std::chrono::nanoseconds> out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    ssl_ptr ssl(SSL_new(ctx));
    SSL_set_fd(ssl.get(), fd);
    const std::string request = "GET /v1/status HTTP/1.1\r\nHost: zoneproxy\r\nConnection: close\r\n\r\n";
    std::size_t n = 0;
    if (SSL_connect(ssl.get()) == 1 && SSL_write_ex(ssl.get(), request.data(), request.size(), &n) == 1) {
      std::string reply;
      char buf[4096];
      while (SSL_read_ex(ssl.get(), buf, sizeof buf, &n) == 1) reply.append(buf, n);
      if (reply.rfind("HTTP/1.1 200", 0) == 0) out = steady_clock::now() - start;
    }
    if (!out && std::getenv("ZP_BENCH_DEBUG") != nullptr) {
      std::fprintf(stderr, "probe failed: errno %d ssl %s\n", errno, ERR_reason_error_string(ERR_peek_error()));
    }
    ERR_clear_error();
  }
  ::close(fd);
  return out;
}

struct phase_figures {
  duration_samples pair, status;
  std::atomic<std::uint64_t> pair_failures{0}, status_failures{0};
};

// Pairing loops: open (both hellos, 101s), close cleanly, again, until `stop`.
void pairing_loop(run_context& c, asio::io_context& io, phase_figures& f, std::atomic<bool>& stop, tracker& live) {
  if (stop) {
    live.done();
    return;
  }
  c.t.open(io, [&c, &io, &f, &stop, &live](const std::shared_ptr<session>& s, const open_timing& timing) {
    if (!s) {
      f.pair_failures.fetch_add(1);
      auto pause = std::make_shared<asio::steady_timer>(io, 10ms);
      pause->async_wait([&c, &io, &f, &stop, &live, pause](std::error_code) { pairing_loop(c, io, f, stop, live); });
      return;
    }
    f.pair.add(timing.paired - timing.second_hello);
    c.t.close(s, [&c, &io, &f, &stop, &live](bool) { pairing_loop(c, io, f, stop, live); });
  });
}

void run_phase(run_context& c, SSL_CTX* operator_ctx, const asio::ip::tcp::endpoint& control, phase_figures& f) {
  std::atomic<bool> stop{false};
  tracker live;
  live.add(c.o.connections);
  for (unsigned i = 0; i < c.o.connections; ++i) {
    asio::io_context& io = c.pool.next();
    on(io, [&c, &io, &f, &stop, &live] { pairing_loop(c, io, f, stop, live); });
  }
  const auto end = steady_clock::now() + c.o.duration();
  while (steady_clock::now() < end) {
    if (auto took = probe_status(operator_ctx, control)) {
      f.status.add(*took);
    } else {
      f.status_failures.fetch_add(1);
    }
    std::this_thread::sleep_for(k_status_interval);
  }
  stop = true;
  live.wait_idle(steady_clock::now() + k_drain_timeout);
}

void report(scenario_result& r, const char* name, phase_figures& f) {
  auto& m = r.metrics[name];
  m["pair_p50_us"] = f.pair.quantile_us(0.50);
  m["pair_p99_us"] = f.pair.quantile_us(0.99);
  m["pairs"] = f.pair.size();
  m["pair_failures"] = f.pair_failures.load();
  m["status_p50_ms"] = f.status.quantile_us(0.50) / 1000;
  m["status_p99_ms"] = f.status.quantile_us(0.99) / 1000;
  m["status_probes"] = f.status.size();
  m["status_failures"] = f.status_failures.load();
  r.summary.push_back(
      fmt::format("{:>9}: pairing p50 {:.2f} ms p99 {:.2f} ms ({} pairs, {} failed); /v1/status p50 "
                  "{:.1f} ms p99 {:.1f} ms ({} probes, {} failed)",
                  name, m["pair_p50_us"].get<double>() / 1000, m["pair_p99_us"].get<double>() / 1000, f.pair.size(),
                  f.pair_failures.load(), m["status_p50_ms"].get<double>(), m["status_p99_ms"].get<double>(),
                  f.status.size(), f.status_failures.load()));
}

}  // namespace

scenario_result run_slowloris(run_context& c) {
  scenario_result r;
  auto id = make_tls_identity(read_file(c.o.client_key).value_or(""), read_file(c.o.client_cert).value_or(""));
  auto ctx = id.ok() ? make_client_ctx(&*id, {}) : absl::StatusOr<ssl_ctx_ptr>(id.status());
  if (!ctx.ok()) {
    c.errors.add(str_cat("slowloris: operator certificate: ", ctx.status().message()));
    return r;
  }
  std::error_code ec;
  const asio::ip::tcp::endpoint control{asio::ip::make_address(c.o.control.host, ec), c.o.control.port};
  const asio::ip::tcp::endpoint endpoint{asio::ip::make_address(c.o.endpoint.host, ec), c.o.endpoint.port};
  const asio::ip::tcp::endpoint module_server{asio::ip::make_address(c.o.module_server.host, ec),
                                              c.o.module_server.port};

  phase_figures baseline, attacked;
  std::fprintf(stderr, "slowloris: baseline, %.0f s\n", c.o.duration_s);
  run_phase(c, ctx->get(), control, baseline);

  auto shared_st = std::make_shared<attack_state>();
  attack_state& st = *shared_st;
  std::vector<std::shared_ptr<slow_conn>> conns;
  for (unsigned i = 0; i < c.o.count; ++i) {
    // 16 connections per source address, 127.1.0.1 upwards: within every per-source limit
    // but spread wide, as a botnet would be.
    const unsigned src = i / 16;
    const auto from = asio::ip::make_address_v4(std::array<unsigned char, 4>{
        127, 1, static_cast<unsigned char>(src / 250), static_cast<unsigned char>(1 + src % 250)});
    const auto& to = i % 10 == 9 ? control : (i % 2 == 0 ? endpoint : module_server);
    asio::io_context& io = c.pool.next();
    conns.push_back(std::make_shared<slow_conn>(io, to, from, i % 4 < 2, shared_st));
    on(io, [conn = conns.back()] { conn->start(); });
  }
  // Let the attack build up before measuring.
  const auto ramp_end = steady_clock::now() + 10s;
  while (steady_clock::now() < ramp_end && st.held.load() < c.o.count * 8 / 10) std::this_thread::sleep_for(100ms);
  std::fprintf(stderr, "slowloris: %llu slow connections held, attack phase %.0f s\n",
               static_cast<unsigned long long>(st.held.load()), c.o.duration_s);
  std::atomic<bool> sampling{true};
  std::vector<std::uint64_t> held;  // once a second, by the sampler only until it is joined
  std::thread sampler([&] {
    while (sampling) {
      held.push_back(st.held.load());
      std::this_thread::sleep_for(1s);
    }
  });
  run_phase(c, ctx->get(), control, attacked);
  sampling = false;
  sampler.join();
  st.running = false;
  for (auto& conn : conns) on(conn->io(), [conn] { conn->stop(); });
  std::sort(held.begin(), held.end());
  const std::uint64_t held_median = held.empty() ? 0 : held[held.size() / 2];

  r.params["count"] = c.o.count;
  report(r, "baseline", baseline);
  report(r, "attack", attacked);
  r.metrics["attack"]["held_median"] = held_median;
  r.metrics["attack"]["opened"] = st.opened.load();
  r.metrics["attack"]["closed_by_proxy"] = st.closed_by_proxy.load();
  r.summary.push_back(fmt::format("attack: {} connections held (median), {} opened, {} closed by the proxy",
                                  held_median, st.opened.load(), st.closed_by_proxy.load()));
  for (phase_figures* f : {&baseline, &attacked}) {
    if (f->pair_failures || f->status_failures) {
      c.errors.add(str_cat("slowloris: ", f == &baseline ? "baseline" : "attack", ": ", f->pair_failures.load(),
                           " pairings and ", f->status_failures.load(), " status probes failed"));
    }
  }
  return r;
}

}  // namespace zp::bench
