// Every error path of admission, the rendezvous and the relay, reached the way Beast's
// fail_count reaches them: the Nth operation of one kind on one role's stream fails
// (common/io_faults.hpp), for N = 1, 2, ... until an operation past the session's last
// one, which lets the session succeed. Whatever fails, PROTOCOL.md 3.5 holds: no byte is
// altered (a session that ends cleanly delivered exactly what was sent), a failure closes
// both sides within a bound, and the proxy lets go of every connection. Each case runs
// twice: with paired sessions handed to the record layer (the default) and kept in
// OpenSSL (record_layer = false, the way back). Run under ASan and TSan in CI (a use
// after free or a race on these paths fails the run there).

#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>
#include <openssl/err.h>
#include <poll.h>

#include <atomic>
#include <chrono>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>

namespace zp::test {
namespace {

using namespace std::chrono_literals;
using op = io_faults::op;

// What the next connections' streams get: the nth call of `target` on a stream of role
// `victim` fails with ECONNRESET. One plan per fixture, changed between sessions (under
// its mutex: workers read it on accept).
struct fault_plan {
  std::mutex mu;
  proxy::role victim = proxy::role::endpoint;
  op target = op::read;
  int n = 0;  // 0: no faults
  std::atomic<int> fired{0};
};

class fail_nth final : public io_faults {
 public:
  fail_nth(op target, int n, std::shared_ptr<fault_plan> plan) : target_(target), n_(n), plan_(std::move(plan)) {}
  std::error_code inject(op o) override {
    if (o != target_ || ++calls_ != n_) return {};
    plan_->fired.fetch_add(1);
    return std::make_error_code(std::errc::connection_reset);
  }

 private:
  op target_;
  int n_;
  int calls_ = 0;
  std::shared_ptr<fault_plan> plan_;
};

// True once the client's stream has ended (close_notify, FIN, reset or TLS error) before
// `deadline`; false if it is still open then.
bool ends_before(tls_client& c, std::chrono::steady_clock::time_point deadline) {
  char buf[16 * 1024];
  while (true) {
    ERR_clear_error();
    std::size_t n = 0;
    const int r = SSL_read_ex(c.ssl(), buf, sizeof buf, &n);
    if (r == 1) continue;
    const int e = SSL_get_error(c.ssl(), r);
    if (e != SSL_ERROR_WANT_READ) return true;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    pollfd p{c.fd(), POLLIN, 0};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
}

// open_half without its test failure: here a refused handshake is an expected outcome.
std::unique_ptr<tls_client> try_open_half(std::uint16_t port, SSL_CTX* ctx, std::string_view id,
                                          std::string_view early) {
  auto c = std::make_unique<tls_client>(port, ctx);
  if (!c->handshake() || !c->write_all(hello_for(id) + std::string(early))) return nullptr;
  return c;
}

struct run_result {
  bool completed = false;   // the session ran to a clean end on both sides
  bool handed_off = false;  // the session left OpenSSL for the record layer
  int fired = 0;            // faults injected
};

// The parameter: whether paired sessions leave OpenSSL for the record layer.
class FaultInjection : public ::testing::TestWithParam<bool> {
 protected:
  FaultInjection() : f_(options()) { f_.plane().set_record_layer(GetParam()); }

  data_plane_options options() {
    data_plane_options o;
    o.settings.pair_timeout = 5s;
    o.faults = [plan = plan_](proxy::role r) -> std::unique_ptr<io_faults> {
      std::lock_guard lock(plan->mu);
      if (r != plan->victim || plan->n == 0) return nullptr;
      return std::make_unique<fail_nth>(plan->target, plan->n, plan);
    };
    return o;
  }

  // One session with a fault on the nth `o` of `victim`'s stream; checks the invariants.
  run_result run_session(proxy::role victim, op o, int n) {
    {
      std::lock_guard lock(plan_->mu);
      plan_->victim = victim;
      plan_->target = o;
      plan_->n = n;
      plan_->fired = 0;
    }
    const std::string sid = random_session_id(rng_);
    // Several relay buffers each way, and early data on both halves.
    const std::string to_ms(160 * 1024, 'e'), to_ep(130 * 1024, 'm');
    auto fired = [&] { return plan_->fired.load() > 0; };
    auto e = try_open_half(f_.endpoint_port(), f_.endpoint_ctx(), sid, "early from the endpoint|");
    // The endpoint waits first, so it is the half that is claimed and handed over.
    data_plane_fixture::eventually([&] { return !e || f_.plane().waiting(proxy::role::endpoint) == 1 || fired(); }, 3s);
    const auto paired_before = f_.total(proxy::counter::sessions_paired);
    const auto handed_off_before = f_.total(proxy::counter::sessions_record_layer);
    auto m = try_open_half(f_.module_server_port(), f_.module_server_ctx(), sid, "early from the module server|");
    // A fault before pairing leaves the other half waiting for a peer that will not come;
    // only a paired session has 101s to read.
    auto paired = [&] { return f_.total(proxy::counter::sessions_paired) > paired_before; };
    data_plane_fixture::eventually([&] { return paired() || fired(); }, 5s);

    run_result out;
    if (e && m && paired() && read_101(*e) && read_101(*m)) {
      auto x = exchange(*e, *m, to_ms, to_ep, 20s);
      EXPECT_NE(x.error, "timeout") << "a failure must close both sides, not stall them";
      if (x.ok) {
        // Nothing may be altered: a clean end means every byte, in order.
        EXPECT_EQ(x.b_received_sha256, sha256_hex("early from the endpoint|" + to_ms));
        EXPECT_EQ(x.a_received_sha256, sha256_hex("early from the module server|" + to_ep));
        out.completed = true;
      } else {
        const auto deadline = std::chrono::steady_clock::now() + 3s;
        EXPECT_TRUE(ends_before(*e, deadline)) << "endpoint side still open after " << x.error;
        EXPECT_TRUE(ends_before(*m, deadline)) << "module server side still open after " << x.error;
      }
    }
    // Whatever happened, the clients leave and the proxy must let go of everything.
    e.reset();
    m.reset();
    EXPECT_TRUE(data_plane_fixture::eventually([&] { return f_.plane().held() == 0; }, 10s))
        << "connections still held: " << f_.plane().held();
    out.fired = plan_->fired.load();
    out.handed_off = f_.total(proxy::counter::sessions_record_layer) > handed_off_before;
    return out;
  }

  // Runs N = 1, 2, ... until a session completes with the fault never reached, and checks
  // that the seam was hit on the way (else this test would prove nothing).
  void every_nth(proxy::role victim, op o, int at_most) {
    int failed_runs = 0;
    int handed_off_faults = 0;  // faulted sessions that were handed to the record layer
    for (int n = 1; n <= at_most; ++n) {
      SCOPED_TRACE(testing::Message() << proxy::role_name(victim) << ": fault at call " << n);
      const run_result r = run_session(victim, o, n);
      if (HasFailure()) return;
      if (r.fired == 0) {
        std::cout << proxy::role_name(victim) << " op " << int(o) << ": " << n - 1 << " faulted sessions, "
                  << failed_runs << " failed, then one without a fault" << std::endl;
        EXPECT_TRUE(r.completed) << "no fault fired, yet the session did not complete";
        EXPECT_GT(failed_runs, 0) << "the fault never made a session fail";
        EXPECT_EQ(r.handed_off, GetParam()) << "the session ran on the other path than this case's";
        // On the record layer, read, write and shutdown faults must also strike sessions
        // already handed off (try_receive, try_send, the sealed close_notify).
        const bool relays = o == op::read || o == op::write || o == op::shutdown;
        if (GetParam() && relays) {
          EXPECT_GT(handed_off_faults, 0) << "no fault struck after the hand-off";
        }
        return;
      }
      failed_runs += r.completed ? 0 : 1;
      handed_off_faults += r.handed_off ? 1 : 0;
    }
    ADD_FAILURE() << "still failing after " << at_most << " calls: raise the bound";
  }

  std::shared_ptr<fault_plan> plan_ = std::make_shared<fault_plan>();
  data_plane_fixture f_;
  std::mt19937_64 rng_{std::random_device{}()};
};

TEST_P(FaultInjection, EveryEndpointReadFailureClosesBothSides) { every_nth(proxy::role::endpoint, op::read, 64); }
TEST_P(FaultInjection, EveryModuleServerReadFailureClosesBothSides) {
  every_nth(proxy::role::module_server, op::read, 64);
}
TEST_P(FaultInjection, EveryEndpointWriteFailureClosesBothSides) { every_nth(proxy::role::endpoint, op::write, 64); }
TEST_P(FaultInjection, EveryModuleServerWriteFailureClosesBothSides) {
  every_nth(proxy::role::module_server, op::write, 64);
}
TEST_P(FaultInjection, ShutdownFailureAfterHalfCloseClosesBothSides) {
  every_nth(proxy::role::endpoint, op::shutdown, 4);
  every_nth(proxy::role::module_server, op::shutdown, 4);
}
TEST_P(FaultInjection, HandshakeFailureClosesThatHalfOnly) {
  every_nth(proxy::role::endpoint, op::handshake, 8);
  every_nth(proxy::role::module_server, op::handshake, 8);
}
// The endpoint arrives first, so it is the half that is claimed and handed over: its
// adoption by the session's worker fails.
TEST_P(FaultInjection, FailureDuringTheHandoffClosesBothSides) { every_nth(proxy::role::endpoint, op::adopt, 2); }

INSTANTIATE_TEST_SUITE_P(Path, FaultInjection, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "RecordLayer" : "OpenSsl"; });

}  // namespace
}  // namespace zp::test
