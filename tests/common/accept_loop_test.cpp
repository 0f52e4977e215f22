// The accept loop every listener runs (common/accept_loop.hpp): out of descriptors for
// real (RLIMIT_NOFILE lowered in this process), an accept fails, is counted by reason and
// reported, and the loop backs off instead of spinning; once a descriptor is free again
// the connection that waited in the backlog is accepted.

#include "common/accept_loop.hpp"

#include <gtest/gtest.h>

#include <sys/resource.h>
#include <unistd.h>
#include <asio/connect.hpp>

#include <fcntl.h>
#include <cerrno>
#include <chrono>
#include <vector>

namespace zp {
namespace {

using asio::ip::tcp;
using namespace std::chrono_literals;

template <typename Done>
bool run_until(asio::io_context& io, Done done, std::chrono::milliseconds limit = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  io.restart();
  while (!done() && std::chrono::steady_clock::now() < deadline) io.run_for(10ms);
  return done();
}

// The lowest free descriptor number: the count of open ones, as the limit sees them.
int next_fd() {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  ::close(fd);
  return fd;
}

TEST(AcceptLoop, WithoutDescriptorsItCountsBacksOffAndAcceptsOnceOneIsFree) {
  asio::io_context io;
  std::vector<tcp::socket> accepted;
  int failures = 0, successes = 0;
  std::vector<accept_error> reasons;
  accept_loop::handlers h;
  h.accepted = [&](tcp::socket s) { accepted.push_back(std::move(s)); };
  h.succeeded = [&] { ++successes; };
  h.failed = [&](accept_error why) {
    ++failures;
    reasons.push_back(why);
  };
  accept_loop loop(io, "test", std::move(h));
  ASSERT_TRUE(loop.bind({asio::ip::make_address("127.0.0.1"), 0}, /*reuse_port=*/false).ok());
  const auto at = loop.local_endpoint();
  loop.start();

  rlimit before{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &before), 0);
  // The client's socket takes the last descriptor below the lowered limit; the accept
  // that would need one more fails with EMFILE.
  tcp::socket client(io);
  client.open(tcp::v4());
  rlimit low = before;
  low.rlim_cur = static_cast<rlim_t>(next_fd());
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  std::error_code ec;
  client.connect(at, ec);  // completes in the kernel's backlog
  ASSERT_FALSE(ec) << ec.message();
  const bool failed = run_until(io, [&] { return loop.errors(accept_error::fd_exhausted) >= 2; });
  const auto failures_then = failures;
  run_until(
      io, [] { return false; }, 150ms);
  const auto retries_in_150ms = failures - failures_then;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &before), 0);

  ASSERT_TRUE(failed) << "the accept never failed";
  EXPECT_EQ(reasons.front(), accept_error::fd_exhausted);
  EXPECT_EQ(loop.errors(accept_error::other), 0u);
  EXPECT_LT(retries_in_150ms, 10) << "backing off, not spinning";
  EXPECT_TRUE(accepted.empty());
  ASSERT_TRUE(run_until(io, [&] { return accepted.size() == 1; })) << "the waiting connection is accepted";
  EXPECT_EQ(successes, 1);
  loop.close();
}

TEST(AcceptLoop, NothingIsAcceptedAfterClose) {
  asio::io_context io;
  int accepted = 0;
  accept_loop::handlers h;
  h.accepted = [&](tcp::socket) { ++accepted; };
  accept_loop loop(io, "test", std::move(h));
  ASSERT_TRUE(loop.bind({asio::ip::make_address("127.0.0.1"), 0}, /*reuse_port=*/false).ok());
  const auto at = loop.local_endpoint();
  loop.start();
  tcp::socket first(io);
  first.connect(at);
  ASSERT_TRUE(run_until(io, [&] { return accepted == 1; }));
  loop.close();
  tcp::socket second(io);
  std::error_code ec;
  second.connect(at, ec);
  run_until(
      io, [] { return false; }, 100ms);
  EXPECT_TRUE(ec) << "the port is closed";
  EXPECT_EQ(accepted, 1);
}

TEST(AcceptLoop, ErrorsAreClassifiedByWhatRanOut) {
  EXPECT_EQ(classify_accept_error(std::error_code(EMFILE, std::system_category())), accept_error::fd_exhausted);
  EXPECT_EQ(classify_accept_error(std::error_code(ENFILE, std::system_category())), accept_error::fd_exhausted);
  EXPECT_EQ(classify_accept_error(std::error_code(ENOBUFS, std::system_category())), accept_error::no_buffers);
  EXPECT_EQ(classify_accept_error(std::error_code(ENOMEM, std::system_category())), accept_error::no_buffers);
  EXPECT_EQ(classify_accept_error(std::error_code(EPROTO, std::system_category())), accept_error::other);
  EXPECT_EQ(accept_error_name(accept_error::fd_exhausted), "fd_exhausted");
}

}  // namespace
}  // namespace zp
