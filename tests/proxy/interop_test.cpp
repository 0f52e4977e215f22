// Foreign TLS stacks through the proxy's record layer (ARCHITECTURE.md "The record
// layer"): OpenSSL's `s_client` and Python's `ssl` module, as real processes, as the
// endpoint and as the Module Server, for each of the four suites, with payloads from
// nothing to 64 MiB, and close_notify relayed each way (PROTOCOL.md 3.5).
//
// Both halves of a session are TLS clients of the proxy, so `s_server` has no place
// here: `s_client` stands for OpenSSL's own application, on either port.

#include "tests/support/daemon.hpp"
#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/process.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <sstream>

namespace zp::test {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

// A half spoken by tests/proxy/data/interop_peer.py.
struct python_half {
  std::uint16_t port;
  bool module_server;
  std::size_t send;
  std::size_t expect;
  bool close_first;
};

std::unique_ptr<process> start_python(const temp_dir& dir, const std::string& name, const std::string& cipher,
                                      const std::string& id, const python_half& h) {
  std::vector<std::string> argv{"/usr/bin/python3",
                                (source_dir() / "tests/proxy/data/interop_peer.py").string(),
                                "--port",
                                std::to_string(h.port),
                                "--cipher",
                                cipher,
                                "--id",
                                id,
                                "--send",
                                std::to_string(h.send),
                                "--seed",
                                std::to_string(std::random_device{}()),
                                "--expect",
                                std::to_string(h.expect)};
  if (h.module_server) {
    argv.insert(argv.end(),
                {"--cert", (test_pki() / "ms-client.crt").string(), "--key", (test_pki() / "ms-client.key").string()});
  }
  if (h.close_first) argv.emplace_back("--close-first");
  return std::make_unique<process>(argv, dir.path() / (name + ".log"));
}

// What interop_peer.py printed: its last line, as JSON.
nlohmann::json python_result(process& p) {
  const std::optional<int> status = p.wait(300s);
  const std::string out = p.output();
  EXPECT_EQ(status, 0) << out;
  std::string last;
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    if (!line.empty()) last = line;
  }
  return nlohmann::json::parse(last, nullptr, false);
}

// `openssl s_client -quiet` (which also ignores the end of its input and takes no
// commands from it): stdin is the hello and then `payload`; stdout must be the 101 and
// then what the other side sent. It ends when the proxy relays the other side's close_notify.
struct s_client_half {
  std::unique_ptr<process> proc;
  fs::path out;
};

s_client_half start_s_client(const temp_dir& dir, const std::string& name, const std::string& cipher,
                             std::uint16_t port, bool module_server, const std::string& id,
                             const std::string& payload) {
  const fs::path in = dir.path() / (name + ".in"), out = dir.path() / (name + ".out");
  std::ofstream(in, std::ios::binary) << hello_for(id) << payload;
  std::string cmd =
      "exec openssl s_client -quiet -tls1_2 -cipher " + cipher + " -connect 127.0.0.1:" + std::to_string(port);
  if (module_server) {
    cmd += " -cert " + (test_pki() / "ms-client.crt").string() + " -key " + (test_pki() / "ms-client.key").string();
  }
  cmd += " <" + in.string() + " >" + out.string();
  return {std::make_unique<process>(std::vector<std::string>{"/bin/sh", "-c", cmd}, dir.path() / (name + ".log")), out};
}

std::string random_bytes(std::size_t n, std::mt19937_64& rng) {
  std::string s(n, '\0');
  for (auto& c : s) c = static_cast<char>(rng());
  return s;
}

class Interop : public ::testing::TestWithParam<const char*> {
 protected:
  // The suite's name as both tools spell it (OpenSSL's names).
  std::string cipher() const { return GetParam(); }
  std::size_t handed_off() const { return f_.total(proxy::counter::sessions_record_layer); }

  data_plane_fixture f_;
  temp_dir dir_;
  std::mt19937_64 rng_{std::random_device{}()};
};

TEST_P(Interop, PythonOnBothSidesRelaysBothWaysAndEachSidesCloseNotify) {
  std::size_t sessions = 0;
  for (const auto& [up, down] : std::vector<std::pair<std::size_t, std::size_t>>{
           {0, 0}, {1, 16385}, {(1 << 20) + 7, 16384}, {std::size_t{64} << 20, (std::size_t{4} << 20) + 1}}) {
    SCOPED_TRACE(std::to_string(up) + " bytes up, " + std::to_string(down) + " down");
    const std::string id = random_session_id(rng_);
    // The Module Server's half waits for the endpoint's; the endpoint ends first.
    auto m = start_python(dir_, "ms", cipher(), id, {f_.module_server_port(), true, down, up, false});
    auto e = start_python(dir_, "ep", cipher(), id, {f_.endpoint_port(), false, up, down, true});
    const nlohmann::json er = python_result(*e), mr = python_result(*m);
    ASSERT_FALSE(er.is_discarded() || mr.is_discarded()) << e->output() << m->output();
    ASSERT_FALSE(er.contains("error")) << er.dump();
    ASSERT_FALSE(mr.contains("error")) << mr.dump();
    EXPECT_EQ(er["cipher"], cipher());
    EXPECT_EQ(mr["cipher"], cipher());
    EXPECT_EQ(mr["received"], up);
    EXPECT_EQ(mr["sha256"], er["sent_sha256"]);
    EXPECT_EQ(er["received"], down);
    EXPECT_EQ(er["sha256"], mr["sent_sha256"]);
    ++sessions;
    EXPECT_EQ(handed_off(), sessions) << "the session was relayed by the record layer";
  }
  EXPECT_TRUE(data_plane_fixture::eventually([&] { return f_.plane().live_sessions() == 0; }));
}

TEST_P(Interop, SClientOnEitherPortWithPythonOnTheOther) {
  std::size_t sessions = 0;
  for (const bool s_client_is_endpoint : {true, false}) {
    for (const auto& [from_s_client, to_s_client] : std::vector<std::pair<std::size_t, std::size_t>>{
             {0, 0}, {(1 << 20) + 3, 1}, {std::size_t{64} << 20, std::size_t{1} << 20}}) {
      SCOPED_TRACE(std::string(s_client_is_endpoint ? "s_client endpoint, " : "s_client Module Server, ") +
                   std::to_string(from_s_client) + " bytes from it, " + std::to_string(to_s_client) + " to it");
      const std::string id = random_session_id(rng_);
      const std::string sent = random_bytes(from_s_client, rng_);
      // Python ends first: s_client ends when the proxy relays Python's close_notify.
      auto py = start_python(dir_, "py", cipher(), id,
                             {s_client_is_endpoint ? f_.module_server_port() : f_.endpoint_port(), s_client_is_endpoint,
                              to_s_client, from_s_client, true});
      auto sc = start_s_client(dir_, "s_client", cipher(),
                               s_client_is_endpoint ? f_.endpoint_port() : f_.module_server_port(),
                               !s_client_is_endpoint, id, sent);
      const nlohmann::json pr = python_result(*py);
      ASSERT_FALSE(pr.is_discarded()) << py->output();
      ASSERT_FALSE(pr.contains("error")) << pr.dump() << "\ns_client: " << sc.proc->output();
      EXPECT_EQ(sc.proc->wait(60s), 0) << sc.proc->output();
      EXPECT_EQ(pr["cipher"], cipher());
      EXPECT_EQ(pr["received"], from_s_client);
      EXPECT_EQ(pr["sha256"], sha256_hex(sent));
      const std::string got = read_text(sc.out);
      ASSERT_TRUE(got.starts_with(k_101)) << got.substr(0, 200);
      EXPECT_EQ(got.size() - k_101.size(), to_s_client);
      EXPECT_EQ(sha256_hex(std::string_view(got).substr(k_101.size())), pr["sent_sha256"]);
      ++sessions;
      EXPECT_EQ(handed_off(), sessions) << "the session was relayed by the record layer";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(FourSuites, Interop, ::testing::ValuesIn(k_each_suite),
                         [](const auto& info) { return suite_test_name(info.param); });

}  // namespace
}  // namespace zp::test
