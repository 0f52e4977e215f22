// tls_socket on real loopback TCP with real OpenSSL: the readiness-driven try_*() layer,
// the composed async_*() operations on top, ends of stream, resets, and the release /
// adopt pair that moves a live connection to another io_context (another worker).

#include "common/tls_socket.hpp"
#include "common/tls_policy.hpp"
#include "tests/support/daemon.hpp"
#include "tests/support/process.hpp"
#include "tests/support/tls_pair.hpp"

#include <gtest/gtest.h>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <thread>

namespace zp {
namespace {

using asio::ip::tcp;
using namespace std::chrono_literals;

// A connected client/server pair of tls_sockets on one io_context, handshake done.
class TlsSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    auto id = make_tls_identity(test::read_text(test::test_pki() / "ms-client.key"),
                                test::read_text(test::test_pki() / "ms-client.crt"));
    ASSERT_TRUE(id.ok()) << id.status();
    pair_.connect(std::move(*id));
  }

  template <typename Done>
  void run_until(Done done, std::chrono::milliseconds limit = 5s) {
    test::run_until(io_, done, limit);
  }

  // Reads with try_read/async_wait until `n` bytes or an end/error.
  std::string read_n(tls_socket& s, std::size_t n, std::error_code* end = nullptr) {
    std::string out;
    bool finished = false;
    std::function<void()> step = [&] {
      char buf[4096];
      while (out.size() < n) {
        tls_socket::result r = s.try_read(buf, sizeof buf);
        out.append(buf, r.bytes);
        if (r.bytes > 0) continue;
        if (r.wait != tls_socket::want::nothing) {
          s.async_wait(r.wait, [&](std::error_code ec) {
            if (ec) {
              if (end) *end = ec;
              finished = true;
              return;
            }
            step();
          });
          return;
        }
        if (end) *end = r.ec;
        break;
      }
      finished = true;
    };
    step();
    run_until([&] { return finished; });
    return out;
  }

  test::tls_pair pair_;
  asio::io_context& io_ = pair_.io;
  std::optional<tls_socket>& client_ = pair_.client;
  std::optional<tls_socket>& server_ = pair_.server;
};

TEST_F(TlsSocket, WritesAreReadInOrderBothWays) {
  const std::string big(200 * 1024, 'x');
  bool wrote = false;
  client_->async_write(asio::buffer(big), [&](std::error_code ec, std::size_t n) {
    EXPECT_FALSE(ec);
    EXPECT_EQ(n, big.size());
    wrote = true;
  });
  EXPECT_EQ(read_n(*server_, big.size()), big);
  run_until([&] { return wrote; });
  ASSERT_EQ(server_->try_write("back", 4).bytes, 4u);
  EXPECT_EQ(read_n(*client_, 4), "back");
}

// With read-ahead (the proxy's server contexts) one read(2) can take several records
// into OpenSSL's buffer: the socket will not become readable again for them, so a read
// wait must not wait while OpenSSL holds whole records. (Before tls_socket knew this,
// read-ahead stalled the relay: 9186ee4.)
TEST_F(TlsSocket, AReadWaitCompletesWhileOpenSslHoldsAWholeRecord) {
  ASSERT_EQ(client_->try_write("first", 5).bytes, 5u);
  ASSERT_EQ(client_->try_write("second", 6).bytes, 6u);
  std::this_thread::sleep_for(100ms);  // both records are in the server's receive queue
  char buf[5];
  tls_socket::result r = server_->try_read(buf, sizeof buf);  // the buffer fills on the first record
  ASSERT_EQ(r.bytes, 5u);
  EXPECT_EQ(std::string(buf, 5), "first");
  bool woke = false;
  server_->async_wait(tls_socket::want::read, [&](std::error_code ec) {
    EXPECT_FALSE(ec) << ec.message();
    woke = true;
  });
  run_until([&] { return woke; }, 2s);
  EXPECT_EQ(read_n(*server_, 6), "second");
}

TEST_F(TlsSocket, ShutdownIsAnEndOfStreamAndTheOtherDirectionStaysOpen) {
  ASSERT_EQ(client_->try_write("last", 4).bytes, 4u);
  ASSERT_FALSE(client_->try_shutdown().ec);
  std::error_code end;
  EXPECT_EQ(read_n(*server_, 100, &end), "last");
  EXPECT_EQ(end, asio::error::eof);
  EXPECT_TRUE(server_->received_close_notify()) << "the session log tells close_notify from a bare FIN";
  ASSERT_EQ(server_->try_write("reply", 5).bytes, 5u);
  EXPECT_EQ(read_n(*client_, 5), "reply");
}

TEST_F(TlsSocket, FinWithoutCloseNotifyIsAnEndOfStream) {
  ::shutdown(client_->socket().native_handle(), SHUT_WR);  // TCP FIN, no close_notify
  std::error_code end;
  EXPECT_EQ(read_n(*server_, 1, &end), "");
  EXPECT_EQ(end, asio::error::eof) << end.message();
  EXPECT_FALSE(server_->received_close_notify());
}

TEST_F(TlsSocket, ResetIsAnErrorNotAnEndOfStream) {
  client_->reset();
  std::error_code end;
  read_n(*server_, 1, &end);
  EXPECT_TRUE(end);
  EXPECT_NE(end, asio::error::eof) << "a reset must not look like a clean end";
}

TEST_F(TlsSocket, AReleasedConnectionKeepsItsSessionInAnotherContext) {
  ASSERT_EQ(client_->try_write("before ", 7).bytes, 7u);
  asio::io_context other;
  tls_socket::released r = server_->release();
  EXPECT_FALSE(server_->is_open());
  ASSERT_GE(r.fd, 0);
  tls_socket moved(other, std::move(r));
  EXPECT_EQ(r.fd, -1) << "the adopted fd belongs to the new socket";
  ASSERT_TRUE(moved.is_open());
  ASSERT_EQ(client_->try_write("after", 5).bytes, 5u);
  std::string got;
  char buf[64];
  const auto deadline = std::chrono::steady_clock::now() + 5s;
  while (got.size() < 12 && std::chrono::steady_clock::now() < deadline) {
    auto res = moved.try_read(buf, sizeof buf);
    got.append(buf, res.bytes);
    if (res.bytes == 0) std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(got, "before after");
}

TEST_F(TlsSocket, InjectedFaultsFailTheOperationAndTravelWithTheConnection) {
  struct fail_reads : io_faults {
    bool armed = false;
    std::error_code inject(op o) override {
      return armed && o == op::read ? std::make_error_code(std::errc::connection_reset) : std::error_code();
    }
  };
  auto faults = std::make_unique<fail_reads>();
  fail_reads* plan = faults.get();
  server_->set_faults(std::move(faults));
  ASSERT_EQ(client_->try_write("a", 1).bytes, 1u);
  EXPECT_EQ(read_n(*server_, 1), "a");  // not armed: reads run
  asio::io_context other;
  tls_socket moved(other, server_->release());
  plan->armed = true;
  char byte;
  EXPECT_EQ(moved.try_read(&byte, 1).ec, std::errc::connection_reset) << "the faults moved with the stream";
}

}  // namespace
}  // namespace zp
