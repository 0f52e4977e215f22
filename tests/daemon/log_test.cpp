// The log an operator reads: journald priorities when stderr is the journal, an audit line
// for every change naming who made it and what changed, one line per ended session with
// its reason, and never a whole session id.

#include "common/tls_policy.hpp"
#include "tests/support/control_client.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>

#include <sstream>

namespace zp::test {
namespace {

TEST(Log, UnderJournaldEveryLineCarriesItsPriorityAndChangesAreAudited) {
  daemon d({}, {}, {"JOURNAL_STREAM=8:1234"});
  ASSERT_TRUE(d.wait_ready());
  auto ports = provision(d);
  ASSERT_TRUE(ports);
  auto ms = module_server_ctx();
  auto r = api_call(d.provisioning_port(), ms.get(), "PUT", "/v1/settings", R"({"pair_timeout_s": 20})");
  ASSERT_TRUE(r && r->status == 200);

  std::mt19937_64 rng{3};
  const std::string sid = random_session_id(rng);
  auto ep = make_client_ctx(nullptr, {});
  auto e = open_half(ports->first, ep->get(), sid);
  auto m = open_half(ports->second, ms.get(), sid);
  ASSERT_TRUE(e && m && read_101(*e) && read_101(*m));
  ASSERT_TRUE(exchange(*e, *m, "12345", "123").ok);
  ASSERT_TRUE(d.proc().wait_for_output("event=session_ended"));
  EXPECT_EQ(d.stop(), 0);

  const std::string log = d.proc().output();
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    EXPECT_TRUE(line.rfind("<6>ts=", 0) == 0 || line.rfind("<4>ts=", 0) == 0 || line.rfind("<3>ts=", 0) == 0)
        << "no journald priority: " << line;
  }
  const std::string client = pki_cert_sha256("ms-client");
  EXPECT_NE(log.find("event=audit action=provisioned client_subject=bootstrap-token"), std::string::npos) << log;
  const auto audit = log.find("event=audit action=settings_changed");
  ASSERT_NE(audit, std::string::npos) << log;
  const std::string line = log.substr(audit, log.find('\n', audit) - audit);
  EXPECT_NE(line.find("client_sha256=" + client), std::string::npos) << line;
  EXPECT_NE(line.find("Module Server client"), std::string::npos) << line;
  EXPECT_NE(line.find("pair_timeout_s=30->20"), std::string::npos) << line;
  const auto ended = log.find("event=session_ended session=" + sid.substr(0, 8));
  ASSERT_NE(ended, std::string::npos) << log;
  const std::string end_line = log.substr(ended, log.find('\n', ended) - ended);
  EXPECT_NE(end_line.find("reason=peer_closed"), std::string::npos) << end_line;
  EXPECT_NE(end_line.find("bytes_to_module_server=5"), std::string::npos) << end_line;
  EXPECT_NE(end_line.find("bytes_to_endpoint=3"), std::string::npos) << end_line;
  EXPECT_EQ(log.find(sid), std::string::npos) << "a whole session id reached the log";
}

TEST(Log, OnATerminalLinesHaveNoPriorityPrefix) {
  daemon d({}, {}, {"JOURNAL_STREAM="});  // as if not under systemd, wherever the test runs
  ASSERT_TRUE(d.wait_ready());
  EXPECT_EQ(d.stop(), 0);
  EXPECT_EQ(d.proc().output().rfind("ts=", 0), 0u) << d.proc().output();
}

}  // namespace
}  // namespace zp::test
