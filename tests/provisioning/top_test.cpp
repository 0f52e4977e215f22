// zoneproxyctl top against a real proxy: screens with the figures an operator looks for,
// rates from the second screen on, and an observer's certificate is enough.

#include "common/tls_policy.hpp"
#include "tests/support/control_client.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>

namespace zp::test {
namespace {

TEST(Top, ShowsSessionsRatesRefusalsDescriptorsAndExpiryWithAnObserverCertificate) {
  daemon d({"--drain-timeout", "1"});  // the session below is still live at the stop
  ASSERT_TRUE(d.wait_ready());
  auto ports = provision(d, {"--observer-ca", (test_pki() / "observer-ca.crt").string()});
  ASSERT_TRUE(ports);
  std::mt19937_64 rng{8};
  const std::string sid = random_session_id(rng);
  auto ep = make_client_ctx(nullptr, {});
  auto ms = module_server_ctx();
  auto e = open_half(ports->first, ep->get(), sid);
  auto m = open_half(ports->second, ms.get(), sid);
  ASSERT_TRUE(e && m && read_101(*e) && read_101(*m));
  auto waiting = open_half(ports->first, ep->get(), random_session_id(rng));
  ASSERT_TRUE(waiting);
  auto r = ctl(
      d.provisioning_port(),
      {"--cert", (test_pki() / "observer-client.crt").string(), "--key", (test_pki() / "observer-client.key").string(),
       "--ca", (test_pki() / "zone-ca.crt").string(), "top", "--count", "2", "--interval", "0.3"},
      /*with_cert=*/false);
  EXPECT_EQ(r.status, 0) << r.output;
  for (const char* expected : {"zoneproxy top", "state provisioned", "SESSIONS   live        1", "endpoint      1",
                               "RELAY", "PAIRING", "REFUSED", "PROCESS    fds", "CERTS      nearest expiry in", "/s"}) {
    EXPECT_NE(r.output.find(expected), std::string::npos) << expected << " missing in:\n" << r.output;
  }
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace zp::test
