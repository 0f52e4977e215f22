// Idle memory per session (issue 4): a data plane in a child process, N idle paired
// sessions opened from this process, the child's RSS (VmRSS) read from /proc before and
// after. Prints one line per measurement and a JSON summary.
//
//   zoneproxy-idle-memory [--sessions N] [--workers N] [--record-layer on|off]
//
// --record-layer off keeps every session with OpenSSL (`record_layer = false`): the same
// build's figure before the hand-off to the record layer (ARCHITECTURE.md "The record
// layer"). Also printed: how long opening and pairing all sessions took.
//
// The data plane is configured as a provision would configure it (the test PKI from
// certs/make-pki.sh), but started through its internal API, so the figure is the data
// plane's alone: no control API, no logging.

#include "proxy/session_log.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/rendezvous.hpp"

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace {

long rss_kib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

}  // namespace

int main(int argc, char** argv) {
  int sessions = 4000;
  unsigned workers = std::max(1u, std::thread::hardware_concurrency());
  bool record_layer = true;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (std::strcmp(argv[i], "--sessions") == 0) sessions = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--workers") == 0) workers = static_cast<unsigned>(std::atoi(argv[i + 1]));
    if (std::strcmp(argv[i], "--record-layer") == 0) record_layer = std::strcmp(argv[i + 1], "off") != 0;
  }
  zp::test::test_pki();  // make the PKI before forking so both sides share it
  int ports_pipe[2];
  if (::pipe(ports_pipe) != 0) return 1;
  pid_t child = ::fork();
  if (child == 0) {
    ::close(ports_pipe[0]);
    zp::test::data_plane_options o;
    o.workers = workers;
    o.settings.max_pending_per_source = 1'000'000;
    o.settings.idle_timeout = std::chrono::seconds(0);
    zp::test::data_plane_fixture f(o);
    f.plane().set_record_layer(record_layer);
    f.plane().set_session_log(zp::proxy::session_log_mode::off);  // "no logging" (above): 2 lines a session
    std::uint16_t ports[2] = {f.endpoint_port(), f.module_server_port()};
    if (::write(ports_pipe[1], ports, sizeof ports) != sizeof ports) return 1;
    ::pause();  // until the parent's SIGTERM
    return 0;
  }
  ::close(ports_pipe[1]);
  std::uint16_t ports[2];
  if (::read(ports_pipe[0], ports, sizeof ports) != sizeof ports) return 1;
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // let the child settle
  const long before = rss_kib(child);

  auto endpoint_ctx = zp::make_client_ctx(nullptr, {});
  auto ms_id = zp::make_tls_identity(zp::test::pki_file("ms-client.key"), zp::test::pki_file("ms-client.crt"));
  auto ms_ctx = zp::make_client_ctx(&*ms_id, {});
  std::mt19937_64 rng(42);
  std::vector<std::unique_ptr<zp::test::tls_client>> open;
  int failures = 0;
  const auto opening = std::chrono::steady_clock::now();
  for (int i = 0; i < sessions; ++i) {
    std::string sid = zp::test::random_session_id(rng);
    auto e = zp::test::open_half(ports[0], endpoint_ctx->get(), sid);
    auto m = zp::test::open_half(ports[1], ms_ctx->get(), sid);
    if (!e || !m || !zp::test::read_101(*e) || !zp::test::read_101(*m)) {
      ++failures;
      continue;
    }
    open.push_back(std::move(e));
    open.push_back(std::move(m));
  }
  const double pair_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - opening).count();
  std::this_thread::sleep_for(std::chrono::seconds(2));  // idle: let buffers be released
  const long after = rss_kib(child);
  int status = 0;
  if (::waitpid(child, &status, WNOHANG) == child) {
    std::printf("the data plane's process ended early (%s %d)\n", WIFSIGNALED(status) ? "signal" : "exit status",
                WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
    return 1;
  }
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  const int paired = sessions - failures;
  const double per_session = paired > 0 ? static_cast<double>(after - before) / paired : 0;
  std::printf(
      "workers=%u record_layer=%s sessions=%d failures=%d pair_s=%.1f rss_before_kib=%ld rss_after_kib=%ld "
      "kib_per_session=%.1f\n",
      workers, record_layer ? "on" : "off", paired, failures, pair_s, before, after, per_session);
  std::printf(
      "{\"scenario\":\"idle_memory\",\"record_layer\":%s,\"sessions\":%d,\"failures\":%d,\"pair_s\":%.2f,"
      "\"rss_before_kib\":%ld,\"rss_after_kib\":%ld,\"kib_per_session\":%.2f}\n",
      record_layer ? "true" : "false", paired, failures, pair_s, before, after, per_session);
  return failures == 0 ? 0 : 1;
}
