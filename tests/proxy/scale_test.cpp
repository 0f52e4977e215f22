// Pairing at scale and under descriptor exhaustion: both halves of 10,000 sessions in
// random order across workers, in waves that fit this machine's 20,000-file limit
// (4 fds per session in one process); and EMFILE refusing cleanly, then recovering.

#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/rendezvous.hpp"

#include <dirent.h>
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <thread>

namespace zp::test {
namespace {

using namespace std::chrono_literals;

TEST(Scale, TenThousandSessionsInRandomOrderAllPairExactlyOnce) {
  data_plane_options o;
  o.workers = 2;
  // Every client here is 127.0.0.1: lift the per-source limit (it has its own test).
  o.settings.max_pending_per_source = 1'000'000;
  data_plane_fixture f(o);
  std::mt19937_64 rng{std::random_device{}()};
  const int k_sessions = std::getenv("ZP_SCALE_SESSIONS") ? std::atoi(std::getenv("ZP_SCALE_SESSIONS")) : 10000;
  const int k_wave = std::min(k_sessions, 1000);  // 2,000 client + 2,000 proxy fds per wave
  std::uint64_t paired_total = 0;
  for (int wave = 0; wave < k_sessions / k_wave; ++wave) {
    struct half_spec {
      std::string id;
      bool endpoint;
      std::unique_ptr<tls_client> c;
    };
    std::vector<half_spec> halves;
    for (int i = 0; i < k_wave; ++i) {
      std::string sid = random_session_id(rng);
      halves.push_back({sid, true, nullptr});
      halves.push_back({sid, false, nullptr});
    }
    std::shuffle(halves.begin(), halves.end(), rng);
    // Two client threads open the halves in the shuffled order, so arrivals race
    // across the proxy's workers as they would from real clients.
    auto open_range = [&](std::size_t from, std::size_t step) {
      for (std::size_t i = from; i < halves.size(); i += step) {
        auto& h = halves[i];
        // Each half announces its id as early data: the peer must receive exactly it.
        h.c = open_half(h.endpoint ? f.endpoint_port() : f.module_server_port(),
                        h.endpoint ? f.endpoint_ctx() : f.module_server_ctx(), h.id, h.id);
      }
    };
    std::thread t1(open_range, 0, 2), t2(open_range, 1, 2);
    t1.join();
    t2.join();
    for (auto& h : halves) {
      ASSERT_TRUE(h.c) << "wave " << wave;
      ASSERT_TRUE(read_101(*h.c)) << "wave " << wave << ": " << h.c->error();
      std::string peer_said;
      while (peer_said.size() < 32) {
        auto chunk = h.c->read_some(32 - peer_said.size());
        ASSERT_TRUE(chunk && !chunk->empty()) << h.c->error();
        peer_said += *chunk;
      }
      ASSERT_EQ(peer_said, h.id) << "paired with the wrong peer";
    }
    paired_total += k_wave;
    EXPECT_EQ(f.plane().waiting(proxy::role::endpoint), 0u);
    EXPECT_EQ(f.plane().waiting(proxy::role::module_server), 0u);
    halves.clear();  // closes this wave's connections
    ASSERT_TRUE(data_plane_fixture::eventually([&] { return f.plane().live_sessions() == 0; }, 60s))
        << f.plane().live_sessions() << " sessions left after wave " << wave;
  }
  const auto paired = f.total(proxy::counter::sessions_paired);
  EXPECT_EQ(paired, paired_total) << "a session paired twice or not at all";
  const auto migrated = f.total(proxy::counter::sessions_migrated);
  EXPECT_GT(migrated, 0u) << "no pair formed across workers";
  EXPECT_LT(migrated, paired_total);
  std::printf("paired %llu sessions, %llu across workers\n", static_cast<unsigned long long>(paired),
              static_cast<unsigned long long>(migrated));
}

std::size_t open_fds() {
  std::size_t n = 0;
  DIR* d = ::opendir("/proc/self/fd");
  while (::readdir(d) != nullptr) ++n;
  ::closedir(d);
  return n - 3;  // ".", ".." and the directory itself
}

TEST(Scale, RunningOutOfDescriptorsRefusesCleanlyAndRecovers) {
  data_plane_fixture f;
  rlimit original{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &original), 0);
  // Leave room for exactly one more descriptor: the client's socket. The proxy's
  // accept then fails with EMFILE and the connection waits in the backlog.
  rlimit tight = original;
  tight.rlim_cur = open_fds() + 1;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &tight), 0);
  tls_client c(f.endpoint_port(), f.endpoint_ctx());
  const bool saw_emfile =
      data_plane_fixture::eventually([&] { return f.total(proxy::counter::accept_errors) > 0; }, 5s);
  // One second of exhaustion: backing off (10 ms doubling to 1 s) means a handful of
  // retries, not a spinning loop.
  std::this_thread::sleep_for(1s);  // measuring a rate over a fixed interval
  const auto errors = f.total(proxy::counter::accept_errors);
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &original), 0);
  ASSERT_TRUE(c.connected());
  EXPECT_TRUE(saw_emfile);
  EXPECT_LT(errors, 20u) << "accept retried " << errors << " times in about a second";
  // With descriptors back, the queued connection is accepted and served.
  EXPECT_TRUE(c.handshake()) << c.error();
  ASSERT_TRUE(c.write_all("GET /nope HTTP/1.1\r\n\r\n"));
  auto reply = c.read_http_response();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 404);
}

}  // namespace
}  // namespace zp::test
