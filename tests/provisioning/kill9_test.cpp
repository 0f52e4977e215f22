// PROTOCOL.md 4.3 under SIGKILL at random instants (issue 13): for every state change the
// API offers (provision, certificates, keys, settings, revoke, CA replacement, deprovision), 20 runs each start
// the daemon on a copy of the same "before" state, send the change, SIGKILL the daemon
// after a random delay within the change's own duration, restart it, and check that it
// starts and that its state is exactly the old one or exactly the new one.

#include "tests/support/control_client.hpp"

#include <gtest/gtest.h>
#include <signal.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <functional>
#include <random>
#include <thread>

namespace zp::test {
namespace {

using namespace std::chrono_literals;
using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr int k_kills_per_change = 20;

// The daemon's state as the API shows it, reduced to what a change may alter.
struct observed {
  std::string state;  // unprovisioned | provisioned
  json settings;
  std::string rsa_sha256;
  json pins;  // the data-plane keys in force (SPKI SHA-256s)
  json revoked;
  json trusted_cas;  // SHA-256 of each Module Server CA in force
  bool operator==(const observed&) const = default;
};

// `now` is the state a change leads to, given its undisturbed result `after` from
// `before`: certificates signed anew carry a new serial each time, so for them "new"
// means "changed as in the reference run", not "the same bytes".
bool is_new(const observed& now, const observed& before, const observed& after) {
  const bool certs_like_after = now.rsa_sha256 == after.rsa_sha256 ||
                                (after.rsa_sha256 != before.rsa_sha256 && now.rsa_sha256 != before.rsa_sha256);
  const bool keys_like_after = now.pins == after.pins || (after.pins != before.pins && now.pins != before.pins);
  return now.state == after.state && now.settings == after.settings && now.revoked == after.revoked &&
         now.trusted_cas == after.trusted_cas && certs_like_after && keys_like_after;
}

observed observe(daemon& d) {
  observed o;
  auto ms = module_server_ctx();
  auto id = api_call(d.provisioning_port(), anonymous_ctx().get(), "GET", "/v1/identity");
  if (!id) id = api_call(d.provisioning_port(), ms.get(), "GET", "/v1/identity");
  o.state = id ? json::parse(id->body).value("state", "?") : "unreachable";
  if (o.state != "provisioned") return o;
  auto diag = api_call(d.provisioning_port(), ms.get(), "GET", "/v1/diagnostics");
  auto trust = api_call(d.provisioning_port(), ms.get(), "GET", "/v1/trust");
  auto status = api_call(d.provisioning_port(), ms.get(), "GET", "/v1/status");
  if (status) o.pins = json::parse(status->body)["keys"]["pins"];
  if (diag) {
    auto j = json::parse(diag->body);
    o.settings = j["config"]["settings"];
    o.rsa_sha256 = j["config"]["certificates"]["rsa"][0].value("sha256", "");
  }
  if (trust) {
    auto j = json::parse(trust->body);
    o.revoked = j["revoked"];
    o.trusted_cas = json::array();
    for (const auto& ca : j["trusted_cas"]) o.trusted_cas.push_back(ca.value("sha256", ""));
  }
  return o;
}

class Kill9 : public ::testing::Test {
 protected:
  // A "before" state: a fresh identity, provisioned unless `provisioned` is false.
  fs::path make_template(bool provisioned) {
    const fs::path state = dir_.path() / (provisioned ? "template-provisioned" : "template-unprovisioned");
    daemon d({}, state);
    EXPECT_TRUE(d.wait_ready());
    if (provisioned) {
      EXPECT_TRUE(provision(d).has_value());
    }
    EXPECT_EQ(d.stop(), 0);
    return state;
  }

  // Kills `change` at random instants; every restart must show `before` or `after`.
  void kill_during(const fs::path& state_template, const std::function<void(daemon&)>& change) {
    // The undisturbed change, once, to learn its result and how long it takes.
    observed before, after;
    std::chrono::nanoseconds took{};
    {
      const fs::path state = copy_of(state_template, "reference");
      daemon d({}, state);
      ASSERT_TRUE(d.wait_ready());
      before = observe(d);
      const auto start = std::chrono::steady_clock::now();
      change(d);
      took = std::chrono::steady_clock::now() - start;
      ASSERT_EQ(d.stop(), 0);
      daemon again({}, state);
      ASSERT_TRUE(again.wait_ready());
      after = observe(again);
      ASSERT_EQ(again.stop(), 0);
    }
    ASSERT_FALSE(before == after) << "the change changed nothing: this test would prove nothing";
    std::mt19937_64 rng{std::random_device{}()};
    int saw_old = 0, saw_new = 0;
    for (int i = 0; i < k_kills_per_change; ++i) {
      SCOPED_TRACE(testing::Message() << "kill " << i);
      const fs::path state = copy_of(state_template, "run-" + std::to_string(i));
      {
        daemon d({}, state);
        ASSERT_TRUE(d.wait_ready());
        // Stratified: run i kills somewhere in the i-th twentieth of 1.2 times the change's
        // duration, so the kills cover the whole change, its commit point included.
        const double at = (i + std::uniform_real_distribution<>(0, 1)(rng)) / k_kills_per_change * 1.2;
        const auto delay = std::chrono::nanoseconds(static_cast<std::int64_t>(at * static_cast<double>(took.count())));
        std::thread killer([&] {
          std::this_thread::sleep_for(delay);
          d.proc().signal(SIGKILL);
        });
        change(d);  // fails when the kill comes first: expected
        killer.join();
        d.proc().wait();
      }
      daemon again({}, state);
      ASSERT_TRUE(again.wait_ready()) << "no start after SIGKILL: " << again.proc().output();
      const observed now = observe(again);
      if (now == before) {
        ++saw_old;
      } else if (is_new(now, before, after)) {
        ++saw_new;
      } else {
        ADD_FAILURE() << "neither the old nor the new state: " << now.state << " " << now.settings << " " << now.revoked
                      << " " << now.rsa_sha256 << " " << now.pins;
      }
      ASSERT_EQ(again.stop(), 0);
      fs::remove_all(state);
    }
    std::cout << "kills: " << k_kills_per_change << " within " << std::chrono::duration<double>(took).count() * 1.2
              << " s: old " << saw_old << ", new " << saw_new << std::endl;
  }

  fs::path copy_of(const fs::path& from, const std::string& name) {
    const fs::path to = dir_.path() / name;
    fs::remove_all(to);
    fs::copy(from, to, fs::copy_options::recursive);
    fs::permissions(to, fs::perms::owner_all);
    return to;
  }

  temp_dir dir_;
};

TEST_F(Kill9, Provision) {
  kill_during(make_template(false), [](daemon& d) { provision(d); });
}

TEST_F(Kill9, CertificateRotation) {
  kill_during(make_template(true), [](daemon& d) {
    ctl(d.provisioning_port(), {"rotate-certs", "--zone-ca-cert", (test_pki() / "zone-ca.crt").string(),
                                "--zone-ca-key", (test_pki() / "zone-ca.key").string(), "--ip", "127.0.0.1"});
  });
}

// zoneproxyctl rotate-keys: pending keys, CSRs signed here, certificates installed (the
// commit), the key directories swapped.
TEST_F(Kill9, KeyRotation) {
  kill_during(make_template(true), [](daemon& d) {
    ctl(d.provisioning_port(), {"rotate-keys", "--zone-ca-cert", (test_pki() / "zone-ca.crt").string(), "--zone-ca-key",
                                (test_pki() / "zone-ca.key").string(), "--ip", "127.0.0.1"});
  });
}

TEST_F(Kill9, Settings) {
  kill_during(make_template(true), [](daemon& d) {
    api_call(d.provisioning_port(), module_server_ctx().get(), "PUT", "/v1/settings",
             R"({"pair_timeout_s": 17, "max_pending": 1234})");
  });
}

TEST_F(Kill9, Revocation) {
  kill_during(make_template(true), [](daemon& d) {
    api_call(d.provisioning_port(), module_server_ctx().get(), "POST", "/v1/trust/revoke",
             json{{"fingerprint", pki_cert_sha256("ms-client2")}}.dump());
  });
}

// PUT /v1/trust/cas: the Module Server CA set grows by one (the caller stays trusted).
TEST_F(Kill9, CaReplacement) {
  kill_during(make_template(true), [](daemon& d) {
    const std::string both = read_text(test_pki() / "ms-ca.crt") + read_text(test_pki() / "observer-ca.crt");
    api_call(d.provisioning_port(), module_server_ctx().get(), "PUT", "/v1/trust/cas",
             json{{"module_server_ca", both}}.dump());
  });
}

TEST_F(Kill9, Deprovision) {
  kill_during(make_template(true),
              [](daemon& d) { api_call(d.provisioning_port(), module_server_ctx().get(), "POST", "/v1/deprovision"); });
}

}  // namespace
}  // namespace zp::test
