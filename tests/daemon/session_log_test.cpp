// The session log (README "Session log"): a line when a session pairs and one when it
// ends, never sampled, with who and what (both sources with ports, the Module Server's
// certificate), the wait, the duration, the bytes, and a termination code for each way a
// session ends; refusals before pairing aggregated per source and reason.

#include "tests/hostile/hostile.hpp"

#include <gtest/gtest.h>

#include <sys/socket.h>

#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

namespace zp::test {
namespace {

using namespace std::chrono_literals;
using fields = std::map<std::string, std::string>;

// key=value pairs of one log line; a value may be double-quoted (with \" inside).
fields parse_line(const std::string& line) {
  fields out;
  std::size_t i = 0;
  while (i < line.size()) {
    const std::size_t eq = line.find('=', i);
    if (eq == std::string::npos) break;
    const std::size_t key_start = line.rfind(' ', eq);
    const std::string key = line.substr(key_start == std::string::npos ? 0 : key_start + 1,
                                        eq - (key_start == std::string::npos ? 0 : key_start + 1));
    std::string value;
    std::size_t j = eq + 1;
    if (j < line.size() && line[j] == '"') {
      for (++j; j < line.size() && line[j] != '"'; ++j) {
        if (line[j] == '\\' && j + 1 < line.size()) ++j;
        value += line[j];
      }
      ++j;
    } else {
      const std::size_t end = line.find(' ', j);
      value = line.substr(j, end == std::string::npos ? std::string::npos : end - j);
      j = end == std::string::npos ? line.size() : end;
    }
    out[key] = value;
    i = j;
  }
  return out;
}

// Every line of `log` with `event=<event>`, parsed.
std::vector<fields> events(const std::string& log, const std::string& event) {
  std::vector<fields> out;
  std::istringstream in(log);
  for (std::string line; std::getline(in, line);) {
    if (line.find("event=" + event + " ") != std::string::npos) out.push_back(parse_line(line));
  }
  return out;
}

std::size_t count_of(const std::string& log, const std::string& needle) {
  std::size_t n = 0;
  for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
  return n;
}

class SessionLog : public ::testing::Test {
 protected:
  void SetUp() override { start(); }
  void start(std::vector<std::string> settings = {}, std::vector<std::string> daemon_args = {}) {
    p_ = std::make_unique<provisioned_daemon>(std::move(settings), std::vector<std::string>{},
                                              std::vector<std::string>{}, std::filesystem::path{},
                                              std::move(daemon_args));
    ASSERT_TRUE(p_->ok()) << p_->d().proc().output();
  }
  void TearDown() override {
    if (HasFailure() && p_)
      std::fprintf(stderr, "--- daemon log (tail) ---\n%s\n", tail(p_->d().proc().output()).c_str());
  }
  static std::string tail(const std::string& s) { return s.size() > 20000 ? s.substr(s.size() - 20000) : s; }

  struct pair_of {
    std::string id;
    std::unique_ptr<tls_client> endpoint, module_server;
  };
  pair_of pair_session(SSL_CTX* ms = nullptr) {
    pair_of s{random_session_id(rng_), nullptr, nullptr};
    s.endpoint = open_half(p_->endpoint_port(), p_->endpoint_ctx(), s.id);
    s.module_server = open_half(p_->module_server_port(), ms != nullptr ? ms : p_->operator_ctx(), s.id);
    EXPECT_TRUE(s.endpoint && s.module_server && read_101(*s.endpoint) && read_101(*s.module_server));
    return s;
  }
  // The ended line of session `id`, once it is written.
  fields ended(const std::string& id) {
    const std::string needle = "event=session_ended session=" + id.substr(0, 8) + " ";
    if (!p_->d().proc().wait_for_output(needle, 10s)) return {};
    for (auto& f : events(p_->d().proc().output(), "session_ended")) {
      if (f["session"] == id.substr(0, 8)) return f;
    }
    return {};
  }

  std::unique_ptr<provisioned_daemon> p_;
  std::mt19937_64 rng_{std::random_device{}()};
};

TEST_F(SessionLog, AThousandSessionsLeaveAThousandPairedAndAThousandEndedLinesWithEveryField) {
  constexpr int k_sessions = 1000;
  std::set<std::string> prefixes;
  std::vector<std::string> ids;
  for (int i = 0; i < k_sessions; ++i) {
    auto s = pair_session();
    ASSERT_TRUE(s.endpoint && s.module_server) << "session " << i;
    ASSERT_TRUE(exchange(*s.endpoint, *s.module_server, "ping", "pong!", 30s).ok) << "session " << i;
    prefixes.insert(s.id.substr(0, 8));
    ids.push_back(s.id);
  }
  ASSERT_EQ(prefixes.size(), std::size_t(k_sessions)) << "random ids collided in their prefix; run again";
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (count_of(p_->d().proc().output(), "event=session_ended ") < std::size_t(k_sessions) &&
         std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  const std::string log = p_->d().proc().output();
  const auto paired = events(log, "session_paired");
  const auto ended = events(log, "session_ended");
  ASSERT_EQ(paired.size(), std::size_t(k_sessions));
  ASSERT_EQ(ended.size(), std::size_t(k_sessions));

  const std::string ms_sha256 = pki_cert_sha256("ms-client").substr(0, 16);
  const std::regex address(R"(127\.0\.0\.1:[0-9]{1,5})"), number(R"([0-9]+(\.[0-9]+)?)");
  std::set<std::string> seen_paired, seen_ended;
  auto common = [&](const fields& f) {
    EXPECT_TRUE(prefixes.count(f.at("session"))) << f.at("session");
    EXPECT_TRUE(std::regex_match(f.at("worker"), number));
    EXPECT_TRUE(std::regex_match(f.at("endpoint"), address)) << f.at("endpoint");
    EXPECT_TRUE(std::regex_match(f.at("module_server"), address)) << f.at("module_server");
    EXPECT_NE(f.at("endpoint"), f.at("module_server")) << "the source ports tell the halves apart";
    EXPECT_NE(f.at("ms_subject").find("CN=zoneproxy test Module Server client"), std::string::npos)
        << f.at("ms_subject");
    EXPECT_EQ(f.at("ms_sha256"), ms_sha256);
    EXPECT_TRUE(f.at("waited") == "endpoint" || f.at("waited") == "module_server") << f.at("waited");
    EXPECT_TRUE(std::regex_match(f.at("wait_ms"), number)) << f.at("wait_ms");
  };
  for (const auto& f : paired) {
    for (const char* k :
         {"session", "worker", "endpoint", "module_server", "ms_subject", "ms_sha256", "waited", "wait_ms"}) {
      ASSERT_TRUE(f.count(k)) << "paired line without " << k;
    }
    common(f);
    seen_paired.insert(f.at("session"));
  }
  for (const auto& f : ended) {
    for (const char* k :
         {"session", "worker", "endpoint", "module_server", "ms_subject", "ms_sha256", "waited", "wait_ms",
          "duration_s", "bytes_to_module_server", "bytes_to_endpoint", "termination", "reason"}) {
      ASSERT_TRUE(f.count(k)) << "ended line without " << k;
    }
    common(f);
    EXPECT_TRUE(std::regex_match(f.at("duration_s"), number));
    EXPECT_EQ(f.at("bytes_to_module_server"), "4");
    EXPECT_EQ(f.at("bytes_to_endpoint"), "5");
    EXPECT_TRUE(f.at("termination") == "endpoint_close_notify" || f.at("termination") == "module_server_close_notify")
        << f.at("termination");
    EXPECT_EQ(f.at("reason"), "peer_closed");
    seen_ended.insert(f.at("session"));
  }
  EXPECT_EQ(seen_paired, prefixes) << "one paired line per session";
  EXPECT_EQ(seen_ended, prefixes) << "one ended line per session";
  // A session id is a secret: the log holds its first 8 characters only.
  for (const auto& id : ids) ASSERT_EQ(log.find(id.substr(0, 9)), std::string::npos) << "more than 8 characters";
}

TEST_F(SessionLog, EachWayASessionEndsHasItsTerminationCode) {
  struct way {
    std::string expected, reason;
    std::function<void(pair_of&)> end;
  };
  auto ms2 = module_server_ctx("ms-client2");
  const std::vector<way> ways = {
      {"endpoint_close_notify", "peer_closed",
       [](pair_of& s) {
         s.endpoint->shutdown_write();
         std::string rest;
         s.module_server->read_to_end(rest);
         s.module_server->shutdown_write();
       }},
      {"module_server_close_notify", "peer_closed",
       [](pair_of& s) {
         s.module_server->shutdown_write();
         std::string rest;
         s.endpoint->read_to_end(rest);
         s.endpoint->shutdown_write();
       }},
      {"endpoint_fin", "peer_closed",
       [](pair_of& s) {
         ::shutdown(s.endpoint->fd(), SHUT_WR);  // TCP FIN without close_notify
         std::string rest;
         s.module_server->read_to_end(rest);
         s.module_server->shutdown_write();
       }},
      {"module_server_fin", "peer_closed",
       [](pair_of& s) {
         ::shutdown(s.module_server->fd(), SHUT_WR);
         std::string rest;
         s.endpoint->read_to_end(rest);
         s.endpoint->shutdown_write();
       }},
      {"endpoint_reset", "reset", [](pair_of& s) { s.endpoint->reset(); }},
      {"module_server_reset", "reset", [](pair_of& s) { s.module_server->reset(); }},
      {"endpoint_tls_error", "error",
       [](pair_of& s) {
         // An application-data record that cannot authenticate.
         const std::string bad("\x17\x03\x03\x00\x20" + std::string(32, 'x'));
         ASSERT_EQ(::send(s.endpoint->fd(), bad.data(), bad.size(), MSG_NOSIGNAL), ssize_t(bad.size()));
       }},
      {"proxy_killed", "killed",
       [this](pair_of& s) {
         auto r = p_->call("DELETE", "/v1/sessions/" + s.id);
         ASSERT_TRUE(r && r->status == 204) << (r ? r->body : "no answer");
       }},
  };
  for (const auto& w : ways) {
    SCOPED_TRACE(w.expected);
    auto s = pair_session();
    ASSERT_TRUE(s.endpoint && s.module_server);
    w.end(s);
    const fields f = ended(s.id);
    ASSERT_FALSE(f.empty()) << "no ended line";
    EXPECT_EQ(f.at("termination"), w.expected);
    EXPECT_EQ(f.at("reason"), w.reason);
  }

  // Revoked: a session of the second Module Server certificate, then its revocation.
  {
    auto s = pair_session(ms2.get());
    auto r =
        p_->call("POST", "/v1/trust/revoke", nlohmann::json{{"fingerprint", pki_cert_sha256("ms-client2")}}.dump());
    ASSERT_TRUE(r && r->status == 200) << (r ? r->body : "no answer");
    const fields f = ended(s.id);
    ASSERT_FALSE(f.empty());
    EXPECT_EQ(f.at("termination"), "proxy_revoked");
    EXPECT_EQ(f.at("ms_sha256"), pki_cert_sha256("ms-client2").substr(0, 16));
  }
  // Idle: idle_timeout_s for new sessions, a session that says nothing.
  {
    auto r = p_->call("PUT", "/v1/settings", R"({"idle_timeout_s": 1})");
    ASSERT_TRUE(r && r->status == 200);
    auto s = pair_session();
    const fields f = ended(s.id);
    ASSERT_FALSE(f.empty());
    EXPECT_EQ(f.at("termination"), "proxy_idle_timeout");
    EXPECT_EQ(f.at("reason"), "idle_timeout");
    ASSERT_TRUE(p_->call("PUT", "/v1/settings", R"({"idle_timeout_s": 900})"));
  }
  // Drain: a session still live when the stop's drain time (1 s here) runs out.
  {
    auto s = pair_session();
    p_->d().request_stop();
    const fields f = ended(s.id);
    ASSERT_FALSE(f.empty());
    EXPECT_EQ(f.at("termination"), "proxy_drain");
    EXPECT_EQ(p_->d().proc().wait(), 0);
  }
  // (CA replaced: tests/provisioning/trust_cas_test.cpp, which has a second CA.)
}

TEST_F(SessionLog, EndsWritesOnlyTheEndAndOffNeither) {
  p_.reset();
  temp_dir dir;
  const auto file = dir.path() / "zoneproxy.toml";
  std::ofstream(file) << "session_log = \"ends\"\n";
  start({}, {"--config", file.string()});
  auto a = pair_session();
  ASSERT_TRUE(exchange(*a.endpoint, *a.module_server, "a", "b").ok);
  EXPECT_FALSE(ended(a.id).empty());
  EXPECT_EQ(count_of(p_->d().proc().output(), "event=session_paired"), 0u);
  // SIGHUP applies a change at once.
  std::ofstream(file) << "session_log = \"off\"\n";
  p_->d().proc().signal(SIGHUP);
  ASSERT_TRUE(p_->d().proc().wait_for_output("applied=session_log")) << p_->d().proc().output();
  auto b = pair_session();
  ASSERT_TRUE(exchange(*b.endpoint, *b.module_server, "a", "b").ok);
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(count_of(p_->d().proc().output(), "event=session_ended"), 1u) << "off writes no session line";
}

// A flood of refusals from one source is one line per interval with the count, not a
// line each; the counter has every one.
TEST_F(SessionLog, RefusalsAreAggregatedPerSourceAndReason) {
  ASSERT_TRUE(p_->call("PUT", "/v1/settings", R"({"max_pending_per_source": 2})"));
  std::vector<std::unique_ptr<tls_client>> waiting;
  for (int i = 0; i < 2; ++i) {
    waiting.push_back(open_half(p_->endpoint_port(), p_->endpoint_ctx(), random_session_id(rng_)));
    ASSERT_TRUE(waiting.back());
  }
  // Both waiting before the flood: a hello still in flight on the other worker would lose
  // its slot to the first of the flood, which would then wait unanswered.
  const std::string waiting_endpoints = R"(zoneproxy_sessions_waiting{role="endpoint"})";
  for (const auto deadline = std::chrono::steady_clock::now() + 10s;
       p_->metric(waiting_endpoints) < 2 && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(20ms);
  }
  ASSERT_EQ(p_->metric(waiting_endpoints), 2);
  constexpr int k_refused = 40;
  for (int i = 0; i < k_refused; ++i) {
    auto c = open_half(p_->endpoint_port(), p_->endpoint_ctx(), random_session_id(rng_));
    ASSERT_TRUE(c);
    auto reply = c->read_http_response();
    ASSERT_TRUE(reply && reply->status == 429);
  }
  // Each worker that refused writes its line when its 10 s interval ends.
  std::vector<fields> lines;
  std::uint64_t total = 0;
  for (const auto deadline = std::chrono::steady_clock::now() + 25s;
       total < std::uint64_t(k_refused) && std::chrono::steady_clock::now() < deadline;) {
    std::this_thread::sleep_for(200ms);
    lines = events(p_->d().proc().output(), "refused");
    total = 0;
    for (const auto& f : lines) total += std::stoull(f.at("count"));
  }
  for (const auto& f : lines) {
    EXPECT_EQ(f.at("listener"), "endpoint");
    EXPECT_EQ(f.at("peer"), "127.0.0.1");
    EXPECT_EQ(f.at("reason"), "too_many_pending");
    EXPECT_EQ(f.at("interval_s"), "10");
  }
  EXPECT_LE(lines.size(), 2u) << "aggregated: a line per worker at most";
  EXPECT_EQ(total, std::uint64_t(k_refused));
  EXPECT_EQ(p_->metric(R"(zoneproxy_connections_rejected_total{listener="endpoint",reason="too_many_pending"})"),
            double(k_refused));
}

}  // namespace
}  // namespace zp::test
