// zoneproxy-bench (bench/harness) as a real child process, every scenario for a second
// or two with tiny counts, against a real provisioned daemon, and once in forward mode
// through a real haproxy: exit 0, no errors, metrics that are there and plausible. Also
// its bad-usage contract (exit 2, one line naming the flag), which the compare script
// relies on.

#include "tests/support/control_client.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/process.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace zp::test {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

struct bench_run {
  int status = -1;
  json report;  // the one JSON object printed on stdout (null if none)
  std::string output;
};

// Runs zoneproxy-bench with `args` plus --json. Its stdout and stderr share one log,
// so the report is the line that is a JSON object (the human summary never starts
// with '{').
bench_run run_bench(std::vector<std::string> args) {
  std::vector<std::string> argv = {(bin_dir() / "zoneproxy-bench").string()};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = run(argv, std::chrono::seconds(120));
  bench_run out;
  out.status = r.status;
  out.output = r.output;
  std::istringstream lines(r.output);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("{\"scenario\"", 0) == 0) out.report = json::parse(line, nullptr, false);
  }
  return out;
}

// The checks every run shares: exit 0, no errors, the contract's top-level fields.
void expect_clean(const bench_run& r, const std::string& scenario, const std::string& target) {
  EXPECT_EQ(r.status, 0) << r.output;
  ASSERT_TRUE(r.report.is_object()) << r.output;
  EXPECT_EQ(r.report["scenario"], scenario);
  EXPECT_EQ(r.report["target"], target);
  EXPECT_EQ(r.report["errors"], 0) << r.output;
  EXPECT_TRUE(r.report["error_samples"].is_array());
  EXPECT_EQ(r.report["suite"], "ECDHE-ECDSA-AES128-GCM-SHA256");
  EXPECT_TRUE(r.report["params"].is_object());
  EXPECT_TRUE(r.report["metrics"].is_object());
}

double metric(const bench_run& r, const std::string& name) {
  const auto& m = r.report["metrics"];
  if (!m.is_object() || !m.contains(name) || !m[name].is_number()) {
    ADD_FAILURE() << "metric " << name << " missing: " << r.output;
    return -1;
  }
  return m[name].get<double>();
}

class BenchSmoke : public ::testing::Test {
 protected:
  void SetUp() override {
    d_ = std::make_unique<daemon>();
    ASSERT_TRUE(d_->wait_ready()) << d_->proc().output();
    auto ports = provision(*d_);
    ASSERT_TRUE(ports) << d_->proc().output();
    ports_ = *ports;
  }
  void TearDown() override {
    if (d_ && d_->proc().running()) {
      EXPECT_EQ(d_->stop(), 0) << d_->proc().output();
    }
  }
  // zoneproxy target, the test PKI's Module Server certificate, the proxy verified
  // against the zone CA, CPU and RSS of the daemon (while it runs).
  bench_run bench(const std::string& scenario, std::vector<std::string> extra) {
    std::vector<std::string> args = {"--target",
                                     "zoneproxy",
                                     "--scenario",
                                     scenario,
                                     "--endpoint",
                                     "127.0.0.1:" + std::to_string(ports_.first),
                                     "--module-server",
                                     "127.0.0.1:" + std::to_string(ports_.second),
                                     "--client-cert",
                                     (test_pki() / "ms-client.crt").string(),
                                     "--client-key",
                                     (test_pki() / "ms-client.key").string(),
                                     "--ca",
                                     (test_pki() / "zone-ca.crt").string(),
                                     "--label",
                                     "smoke",
                                     "--json"};
    if (d_->proc().running()) args.insert(args.end(), {"--proxy-pid", std::to_string(d_->proc().pid())});
    args.insert(args.end(), extra.begin(), extra.end());
    return run_bench(args);
  }

  std::unique_ptr<daemon> d_;
  std::pair<std::uint16_t, std::uint16_t> ports_;
};

TEST_F(BenchSmoke, ThroughputOneDirectionIsVerifiedAndCostsTheProxyCpu) {
  auto r = bench("throughput", {"--duration", "1", "--connections", "2"});
  expect_clean(r, "throughput", "zoneproxy");
  EXPECT_EQ(r.report["label"], "smoke");
  EXPECT_EQ(r.report["params"]["direction"], "one");
  EXPECT_GT(metric(r, "mb_per_s"), 0);
  EXPECT_GT(metric(r, "bytes"), 0);
  EXPECT_GT(metric(r, "cpu_s_per_gb"), 0);
}

TEST_F(BenchSmoke, ThroughputBothDirections) {
  auto r = bench("throughput", {"--duration", "1", "--connections", "2", "--direction", "both"});
  expect_clean(r, "throughput", "zoneproxy");
  EXPECT_EQ(r.report["params"]["direction"], "both");
  EXPECT_GT(metric(r, "mb_per_s"), 0);
}

TEST_F(BenchSmoke, LatencyPercentilesAreOrdered) {
  auto r = bench("latency", {"--duration", "1", "--connections", "4"});
  expect_clean(r, "latency", "zoneproxy");
  EXPECT_GT(metric(r, "round_trips"), 0);
  EXPECT_GT(metric(r, "p50_us"), 0);
  EXPECT_GE(metric(r, "p99_us"), metric(r, "p50_us"));
  EXPECT_GE(metric(r, "p999_us"), metric(r, "p99_us"));
  EXPECT_GT(metric(r, "proxy_cpu_us_per_round_trip"), 0);
  EXPECT_GT(metric(r, "mean_us"), 0);
  // A relay with nothing queued sleeps between messages.
  EXPECT_GT(metric(r, "proxy_sleeps_per_round_trip"), 0);
  EXPECT_GE(metric(r, "proxy_preemptions_per_round_trip"), 0);
  // Per session: every one of the 4 made round trips, and they add up to the total.
  EXPECT_GT(metric(r, "round_trips_fewest_session"), 0);
  EXPECT_LE(metric(r, "round_trips_fewest_session") * 4, metric(r, "round_trips"));
  EXPECT_GE(metric(r, "round_trips_most_session") * 4, metric(r, "round_trips"));
  EXPECT_GT(metric(r, "p50_us_session_weighted"), 0);
  EXPECT_GE(metric(r, "p99_us_session_weighted"), metric(r, "p50_us_session_weighted"));
  // Both ends of every session are the harness's: it works for each echo too, and the
  // machine's CPU time covers the proxy's and the harness's.
  EXPECT_GT(metric(r, "harness_cpu_us_per_round_trip"), 0);
  EXPECT_GT(metric(r, "machine_cpu_us_per_round_trip"), metric(r, "proxy_cpu_us_per_round_trip"));
}

// --pace: an open loop. 2 sessions at 50 round trips per second for 2 s: the schedule
// caps the count (a closed loop here makes thousands), and a proxy that keeps up meets it.
TEST_F(BenchSmoke, PacedLatencyKeepsItsSchedule) {
  auto r = bench("latency", {"--duration", "2", "--connections", "2", "--pace", "50"});
  expect_clean(r, "latency", "zoneproxy");
  EXPECT_EQ(r.report["params"]["pace_per_s"], 50.0);
  EXPECT_LE(metric(r, "round_trips"), 2 * (50 * 2 + 1));
  EXPECT_GE(metric(r, "round_trips"), 2 * 50);
  EXPECT_LE(metric(r, "round_trips_late"), metric(r, "round_trips"));
  EXPECT_GT(metric(r, "p50_us"), 0);
}

TEST_F(BenchSmoke, HandshakesCountWholeSessionLives) {
  auto r = bench("handshakes", {"--duration", "1", "--connections", "2"});
  expect_clean(r, "handshakes", "zoneproxy");
  EXPECT_GT(metric(r, "sessions"), 0);
  EXPECT_GT(metric(r, "sessions_per_s"), 0);
  EXPECT_GT(metric(r, "setup_p50_us"), 0);
  EXPECT_GE(metric(r, "setup_p99_us"), metric(r, "setup_p50_us"));
  EXPECT_GT(metric(r, "proxy_cpu_us_per_session"), 0);
  EXPECT_TRUE(r.report["metrics"]["resumed_a"].is_null()) << "resumption counted without --resume";
  EXPECT_EQ(r.report["params"]["resume"], false);
}

// --resume: each client role offers the last ticket it got, so after the first session
// of the run nearly every handshake on both ports resumes (the proxy issues tickets).
TEST_F(BenchSmoke, HandshakesWithResumeResumeBothHalves) {
  auto r = bench("handshakes", {"--duration", "1", "--connections", "2", "--resume"});
  expect_clean(r, "handshakes", "zoneproxy");
  EXPECT_EQ(r.report["params"]["resume"], true);
  EXPECT_GT(metric(r, "sessions"), 10);
  EXPECT_GT(metric(r, "resumed_a"), 0.8) << "endpoint half";
  EXPECT_GT(metric(r, "resumed_b"), 0.8) << "Module Server half";
  EXPECT_GT(metric(r, "proxy_cpu_us_per_session"), 0);
}

TEST_F(BenchSmoke, PairingDoesExactlyTheCountedPairs) {
  auto r = bench("pairing", {"--count", "40", "--connections", "4", "--duration", "30"});
  expect_clean(r, "pairing", "zoneproxy");
  EXPECT_EQ(metric(r, "pairs"), 40);
  EXPECT_GT(metric(r, "pair_p50_us"), 0);
  EXPECT_GE(metric(r, "pair_p99_us"), metric(r, "pair_p50_us"));
}

TEST_F(BenchSmoke, IdleSessionsGrowTheProxyRss) {
  // --duration is the opening's time budget here, ample for sanitizer builds.
  auto r = bench("idle", {"--count", "100", "--duration", "30"});
  expect_clean(r, "idle", "zoneproxy");
  EXPECT_EQ(metric(r, "sessions"), 100);
  EXPECT_GT(metric(r, "rss_before_kib"), 0);
  EXPECT_GT(metric(r, "rss_after_kib"), 0);
  EXPECT_GT(metric(r, "rss_per_session_kib"), 0);
}

// --hold: the soak's idle population stays open, each session beating with a checked
// round trip (here every second: half the hold), and all are alive at the end.
TEST_F(BenchSmoke, IdleSessionsHeldBeatAndStayOpen) {
  auto r = bench("idle", {"--count", "20", "--duration", "30", "--hold", "2"});
  expect_clean(r, "idle", "zoneproxy");
  EXPECT_EQ(metric(r, "sessions"), 20);
  EXPECT_EQ(metric(r, "heartbeats"), 1);
  EXPECT_EQ(metric(r, "sessions_held_to_the_end"), 20);
  // Two round trips of 64 bytes each way per session: the heartbeat and the last one.
  EXPECT_EQ(metric(r, "bytes_verified"), 20 * 2 * 2 * 64);
}

TEST_F(BenchSmoke, ChurnOpensAndClosesEverySessionCleanly) {
  auto r = bench("churn", {"--duration", "2", "--connections", "4", "--rate", "20"});
  expect_clean(r, "churn", "zoneproxy");
  EXPECT_EQ(metric(r, "long_lived"), 4);
  EXPECT_GT(metric(r, "sessions_opened"), 4);
  EXPECT_EQ(metric(r, "sessions_closed"), metric(r, "sessions_opened"));
  EXPECT_GT(metric(r, "bytes_verified"), 0);
}

TEST_F(BenchSmoke, SlowlorisMeasuresPairingAndTheOperatorWithAndWithoutTheAttack) {
  auto r = bench("slowloris", {"--count", "200", "--duration", "1", "--control",
                               "127.0.0.1:" + std::to_string(d_->provisioning_port())});
  expect_clean(r, "slowloris", "zoneproxy");
  for (const char* phase : {"baseline", "attack"}) {
    const auto& m = r.report["metrics"][phase];
    ASSERT_TRUE(m.is_object()) << r.output;
    EXPECT_GT(m["pairs"].get<double>(), 0) << phase;
    EXPECT_GT(m["status_probes"].get<double>(), 0) << phase;
    EXPECT_EQ(m["pair_failures"].get<double>(), 0) << phase;
    EXPECT_EQ(m["status_failures"].get<double>(), 0) << phase;
  }
  EXPECT_GT(r.report["metrics"]["attack"]["held_median"].get<double>(), 100) << r.output;
}

TEST_F(BenchSmoke, ChaosVerifiesCleanSessionsAndTimesTheBrokenOnes) {
  auto r = bench("chaos", {"--duration", "2", "--rate", "20"});
  expect_clean(r, "chaos", "zoneproxy");
  EXPECT_GT(metric(r, "sessions"), 20);
  EXPECT_EQ(metric(r, "clean") + metric(r, "broken_on_purpose"), metric(r, "sessions"));
  EXPECT_EQ(metric(r, "broken_closed_within_1s"), metric(r, "broken_on_purpose"));
  EXPECT_EQ(metric(r, "lost_or_altered"), 0);
  EXPECT_GT(metric(r, "bytes_verified"), 0);
}

TEST_F(BenchSmoke, AStoppedProxyIsAnErrorRunExit1) {
  ASSERT_EQ(d_->stop(), 0);
  auto r = bench("latency", {"--duration", "1", "--connections", "1"});
  EXPECT_EQ(r.status, 1) << r.output;
  ASSERT_TRUE(r.report.is_object()) << r.output;
  EXPECT_GT(r.report["errors"].get<int>(), 0);
  ASSERT_FALSE(r.report["error_samples"].empty());
}

TEST(BenchUsage, BadUsageExits2WithOneLineNamingTheFlag) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--scenario", "latency"}, "--target"},
      {{"--target", "zoneproxy"}, "--scenario"},
      {{"--target", "elsewhere", "--scenario", "latency"}, "--target"},
      {{"--target", "zoneproxy", "--scenario", "speed"}, "--scenario"},
      {{"--target", "zoneproxy", "--scenario", "latency"}, "--client-cert"},
      {{"--target", "forward", "--scenario", "latency"}, "--connect"},
      {{"--target", "forward", "--scenario", "pairing", "--connect", "127.0.0.1:1"}, "--scenario"},
      {{"--target", "zoneproxy", "--scenario", "idle", "--count", "8001"}, "--count"},
      {{"--target", "zoneproxy", "--scenario", "latency", "--hold", "5"}, "--hold"},
      {{"--target", "zoneproxy", "--scenario", "idle", "--hold", "0"}, "--hold"},
      {{"--target", "zoneproxy", "--scenario", "idle", "--pace", "10"}, "--pace"},
      {{"--target", "zoneproxy", "--scenario", "latency", "--pace", "0"}, "--pace"},
      {{"--target", "zoneproxy", "--scenario", "latency", "--connections", "0"}, "--connections"},
      {{"--target", "zoneproxy", "--scenario", "latency", "--duration", "-1"}, "--duration"},
      {{"--target", "zoneproxy", "--scenario", "latency", "--suite", "AES128-SHA"}, "--suite"},
      {{"--target", "zoneproxy", "--scenario", "throughput", "--direction", "sideways"}, "--direction"},
      {{"--target", "zoneproxy", "--scenario", "latency", "--endpoint", "localhost"}, "--endpoint"},
      {{"--target", "zoneproxy", "--scenario", "latency", "--proxy-pid", "1,x"}, "--proxy-pid"},
      {{"--target", "zoneproxy", "--scenario", "latency", "--client-cert", "/nonexistent"}, "--client-cert"},
      {{"--target", "zoneproxy", "--scenario", "latency", "--colour", "blue"}, "--colour"},
  };
  for (const auto& [args, flag] : cases) {
    auto r = run_bench(args);
    EXPECT_EQ(r.status, 2) << flag << ": " << r.output;
    EXPECT_NE(r.output.find(flag), std::string::npos) << "should name " << flag << ": " << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
    EXPECT_TRUE(r.report.is_null()) << r.output;
  }
}

// Forward mode through a real haproxy (Debian's 2.6): TLS in from the harness's
// clients, TLS out to the harness's backend, the same suite on both legs.
class BenchForward : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(haproxy_)) GTEST_SKIP() << haproxy_ << " is not installed (packaging/install-deps.sh installs it)";
    // A throwaway ECDSA P-256 server certificate for both haproxy and the backend.
    auto r = run({"/usr/bin/openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-days", "1", "-keyout",
                  key().string(), "-out", cert().string()});
    ASSERT_EQ(r.status, 0) << r.output;
    std::ofstream(dir_.path() / "server.pem") << read_text(cert()) << read_text(key());
    listen_ = free_port();
    backend_ = free_port();
    const std::string tls = " ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.2 ciphers ECDHE-ECDSA-AES128-GCM-SHA256";
    std::ofstream(dir_.path() / "haproxy.cfg")
        << "global\n  maxconn 200\n"
        << "defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n"
        << "frontend fe\n  bind 127.0.0.1:" << listen_ << " ssl crt " << (dir_.path() / "server.pem").string() << tls
        << "\n  default_backend be\n"
        << "backend be\n  server s1 127.0.0.1:" << backend_ << " ssl verify none" << tls << "\n";
    haproxy_proc_ = std::make_unique<process>(
        std::vector<std::string>{haproxy_, "-db", "-f", (dir_.path() / "haproxy.cfg").string()},
        dir_.path() / "haproxy.log");
    ASSERT_TRUE(listening(listen_)) << haproxy_proc_->output();
  }
  void TearDown() override {
    if (!haproxy_proc_) return;
    haproxy_proc_->signal(SIGTERM);
    EXPECT_TRUE(haproxy_proc_->wait(std::chrono::seconds(10)).has_value());
  }
  // The forward target through this haproxy, 2 connections for 1 s, plus `extra`.
  bench_run forward(std::vector<std::string> extra) {
    std::vector<std::string> args = {"--target",
                                     "forward",
                                     "--duration",
                                     "1",
                                     "--connections",
                                     "2",
                                     "--connect",
                                     "127.0.0.1:" + std::to_string(listen_),
                                     "--backend-listen",
                                     "127.0.0.1:" + std::to_string(backend_),
                                     "--backend-cert",
                                     cert().string(),
                                     "--backend-key",
                                     key().string(),
                                     "--ca",
                                     cert().string(),
                                     "--proxy-pid",
                                     std::to_string(haproxy_proc_->pid()),
                                     "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return run_bench(args);
  }
  fs::path cert() const { return dir_.path() / "server.crt"; }
  fs::path key() const { return dir_.path() / "server.key"; }
  // Polls until something accepts on the port (haproxy bound it) or the deadline.
  static bool listening(std::uint16_t port) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int fd = ::socket(AF_INET, SOCK_STREAM, 0);
      sockaddr_in a{};
      a.sin_family = AF_INET;
      a.sin_port = htons(port);
      a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
      ::close(fd);
      if (ok) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return false;
  }

  const std::string haproxy_ = "/usr/sbin/haproxy";
  temp_dir dir_;
  std::uint16_t listen_ = 0, backend_ = 0;
  std::unique_ptr<process> haproxy_proc_;
};

TEST_F(BenchForward, ThroughputBothWaysThroughHaproxyIsVerified) {
  auto r = forward({"--scenario", "throughput", "--direction", "both", "--label", "haproxy"});
  expect_clean(r, "throughput", "forward");
  EXPECT_EQ(r.report["label"], "haproxy");
  EXPECT_GT(metric(r, "mb_per_s"), 0);
  EXPECT_GT(metric(r, "cpu_s_per_gb"), 0);
}

// The forward target with --resume: the client resumes with HAProxy (tickets are its
// default), and the backend issues tickets so HAProxy's own upstream sessions can too.
TEST_F(BenchForward, HandshakesWithResumeResumeThroughHaproxy) {
  auto r = forward({"--scenario", "handshakes", "--resume"});
  expect_clean(r, "handshakes", "forward");
  EXPECT_GT(metric(r, "resumed_a"), 0.8);
  EXPECT_TRUE(r.report["metrics"]["resumed_b"].is_null()) << "the backend side is the forwarder's client, not ours";
  EXPECT_GT(metric(r, "proxy_cpu_us_per_session"), 0);
}

}  // namespace
}  // namespace zp::test
