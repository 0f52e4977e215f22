// Day-two operations on a running daemon: SIGHUP re-reads the local configuration and
// applies what can change live without touching a session, and each port listens on
// the address the configuration gives it (a DMZ host exposes 17487/17488 only inside).

#include "common/tls_policy.hpp"
#include "tests/support/control_client.hpp"
#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/rendezvous.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <optional>
#include <thread>

namespace zp::test {
namespace {

using namespace std::chrono_literals;

// Whether a TCP connection to addr:port is accepted (loopback: refused at once if not).
bool tcp_reachable(const char* addr, std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  ::inet_pton(AF_INET, addr, &to.sin_addr);
  const bool ok = ::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0;
  ::close(fd);
  return ok;
}

// A TLS handshake attempt with garbage: the proxy logs it at debug level only.
void provoke_debug_line(std::uint16_t api_port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(api_port);
  ::inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof to) == 0) {
    static constexpr char k_garbage[] = "GET / HTTP/1.0\r\n\r\n";
    (void)!::write(fd, k_garbage, sizeof k_garbage - 1);
    char buf[64];
    (void)!::read(fd, buf, sizeof buf);
  }
  ::close(fd);
}

std::size_t count_of(const std::string& log, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
  return n;
}

// Writes on one half and reads the same bytes on the other.
bool relays(tls_client& from, tls_client& to, const std::string& bytes) {
  if (!from.write_all(bytes)) return false;
  std::string got = to.take_buffered();
  while (got.size() < bytes.size()) {
    auto more = to.read_some();
    if (!more || more->empty()) return false;
    got += *more;
  }
  return got == bytes;
}

// A provisioned daemon started with a config file; reload() rewrites the file, sends
// SIGHUP and waits for the line saying what was applied.
class ReloadWithSessions : public ::testing::Test {
 protected:
  void start(const std::string& config) {
    std::ofstream(file_) << config;
    d_.emplace(std::vector<std::string>{"--config", file_.string()});
    ASSERT_TRUE(d_->wait_ready()) << d_->proc().output();
    auto ports = provision(*d_);
    ASSERT_TRUE(ports);
    ports_ = *ports;
  }
  void reload(const std::string& config) {
    std::ofstream(file_) << config;
    d_->proc().signal(SIGHUP);
    ASSERT_TRUE(d_->proc().wait_for_output("event=config_reloaded")) << d_->proc().output();
  }
  bool logged(const std::string& needle) { return d_->proc().output().find(needle) != std::string::npos; }
  paired_halves pair_up() { return open_paired(ports_.first, ep_.get(), ports_.second, ms_.get(), rng_); }

  temp_dir dir_;
  std::filesystem::path file_ = dir_.path() / "zoneproxy.toml";
  std::optional<daemon> d_;
  std::pair<std::uint16_t, std::uint16_t> ports_;
  ssl_ctx_ptr ms_ = module_server_ctx();
  ssl_ctx_ptr ep_ = std::move(*make_client_ctx(nullptr, {}));
  std::mt19937_64 rng_{std::random_device{}()};
};

TEST_F(ReloadWithSessions, SighupChangesTheLogLevelWhileASessionRelays) {
  start("log_level = \"info\"\n");
  auto s = pair_up();
  ASSERT_TRUE(s.e && s.m);
  ASSERT_TRUE(relays(*s.e, *s.m, "before the reload"));
  provoke_debug_line(d_->provisioning_port());

  // debug logs now; the drain timeout can only change with a restart: the line says so.
  reload("log_level = \"debug\"\ndrain_timeout_s = 7\n");
  EXPECT_TRUE(logged("applied=log_level restart_needed=drain_timeout_s live_sessions=1")) << d_->proc().output();
  provoke_debug_line(d_->provisioning_port());
  EXPECT_TRUE(d_->proc().wait_for_output("event=api_handshake_failed", 5s)) << "debug lines after the reload";
  EXPECT_EQ(count_of(d_->proc().output(), "event=api_handshake_failed"), 1u) << "and not before it";

  // The session never noticed: bytes still flow both ways.
  EXPECT_TRUE(relays(*s.e, *s.m, "after the reload, endpoint to module server"));
  EXPECT_TRUE(relays(*s.m, *s.e, "after the reload, module server to endpoint"));
  s = {};  // ends the session, so the stop below need not wait out the drain
  EXPECT_EQ(d_->stop(), 0);
}

// record_layer = false on SIGHUP: sessions paired from then on stay with OpenSSL to their
// end; a session handed off before keeps relaying through the record layer.
TEST_F(ReloadWithSessions, SighupTurnsTheRecordLayerOffForSessionsPairedAfterIt) {
  start("record_layer = true\n");
  auto handed_off = [&] {
    auto r = api_call(d_->provisioning_port(), ms_.get(), "GET", "/metrics");
    return r ? metric_sample(r->body, "zoneproxy_sessions_record_layer_total") : -1;
  };
  auto before = pair_up();
  ASSERT_TRUE(before.e && before.m);
  ASSERT_TRUE(relays(*before.e, *before.m, "paired before the reload"));
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return handed_off() == 1; })) << handed_off();

  reload("record_layer = false\n");
  EXPECT_TRUE(logged("applied=record_layer restart_needed=none")) << d_->proc().output();
  auto after = pair_up();
  ASSERT_TRUE(after.e && after.m);
  EXPECT_TRUE(relays(*after.e, *after.m, "paired after the reload"));
  EXPECT_TRUE(relays(*after.m, *after.e, "and back"));
  EXPECT_TRUE(relays(*before.m, *before.e, "the first session still relays"));
  EXPECT_EQ(handed_off(), 1) << "the session paired after the reload stayed with OpenSSL";
  before = {};
  after = {};
  EXPECT_EQ(d_->stop(), 0);
}

TEST(Reload, ABadFileOnSighupKeepsWhatIsInForce) {
  temp_dir dir;
  const auto file = dir.path() / "zoneproxy.toml";
  std::ofstream(file) << "log_level = \"info\"\n";
  daemon d({"--config", file.string()});
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  std::ofstream(file) << "log_level = \"loud\"\n";
  d.proc().signal(SIGHUP);
  ASSERT_TRUE(d.proc().wait_for_output("event=config_reload_failed")) << d.proc().output();
  EXPECT_NE(d.proc().output().find("log_level: invalid value"), std::string::npos) << d.proc().output();
  EXPECT_TRUE(d.proc().running()) << "a bad file on reload must not stop the proxy";
  std::remove(file.c_str());
  d.proc().signal(SIGHUP);
  for (int i = 0; i < 250 && count_of(d.proc().output(), "event=config_reload_failed") < 2; ++i) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(count_of(d.proc().output(), "event=config_reload_failed"), 2u) << "a missing file: " << d.proc().output();
  EXPECT_TRUE(d.proc().running());
  EXPECT_EQ(d.stop(), 0);
}

TEST(Binds, EachPortListensOnlyOnItsOwnAddress) {
  temp_dir dir;
  const auto file = dir.path() / "zoneproxy.toml";
  // The test daemon passes --bind 127.0.0.1, which stays the default for 17487/17488.
  std::ofstream(file) << "endpoint_bind = \"127.0.0.2\"\n";
  daemon d({"--config", file.string()});
  ASSERT_TRUE(d.wait_ready()) << d.proc().output();
  auto ports = provision(d);
  ASSERT_TRUE(ports) << d.proc().output();
  EXPECT_TRUE(tcp_reachable("127.0.0.2", ports->first)) << "17486 on the endpoint address";
  EXPECT_FALSE(tcp_reachable("127.0.0.1", ports->first)) << "17486 only there";
  EXPECT_FALSE(tcp_reachable("127.0.0.2", ports->second)) << "17487 not on the endpoint address";
  EXPECT_FALSE(tcp_reachable("127.0.0.2", d.provisioning_port())) << "17488 not on the endpoint address";
  EXPECT_TRUE(tcp_reachable("127.0.0.1", ports->second));
  auto ms = module_server_ctx();
  auto status = api_call(d.provisioning_port(), ms.get(), "GET", "/v1/status");
  ASSERT_TRUE(status && status->status == 200);
  const auto j = nlohmann::json::parse(status->body);
  EXPECT_EQ(j["listeners"]["endpoint"]["address"], "127.0.0.2") << status->body;
  EXPECT_EQ(j["listeners"]["module_server"]["address"], "127.0.0.1") << status->body;
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace zp::test
