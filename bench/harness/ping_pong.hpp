#pragma once
// One round trip of a small message on an open session: `size` bytes a -> b, checked on
// b, then `size` bytes b -> a, checked on a. Each direction carries its own payload
// stream (payload.hpp), so a byte delivered twice, lost or altered in either direction
// fails the check. The latency, handshakes, pairing, idle and churn scenarios are built
// on it.

#include "bench/harness/session.hpp"

#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

namespace zp::bench {

class ping_pong : public std::enable_shared_from_this<ping_pong> {
 public:
  /// `failure` is empty on success; `rtt` is from the first write to the last byte read.
  using done_handler = std::function<void(const std::string& failure, std::chrono::nanoseconds rtt)>;

  ping_pong(std::shared_ptr<session> s, std::size_t size, const target& t);
  /// One round trip, bounded by k_phase_timeout (on timeout both connections are closed).
  /// Runs on the session's context; one at a time.
  void once(done_handler done);
  /// Payload bytes checked so far, both directions.
  std::uint64_t bytes_verified() const { return off_ab_ + off_ba_; }
  const std::shared_ptr<session>& sess() const { return s_; }

 private:
  void half(int step);
  void finish(const std::string& failure);

  std::shared_ptr<session> s_;
  std::size_t size_;
  const target& t_;
  asio::steady_timer timer_;
  std::uint64_t off_ab_ = 0, off_ba_ = 0;
  std::vector<char> buf_;
  done_handler done_;
  steady_clock::time_point start_;
  int outstanding_ = 0;
  std::string failure_;
};

}  // namespace zp::bench
