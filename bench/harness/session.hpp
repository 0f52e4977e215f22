#pragma once
// A session as every scenario sees it: two TLS connections `a` and `b` such that bytes
// written on one arrive on the other, whatever the target.
//
//   --target zoneproxy: a = the endpoint half (endpoint port, no client certificate),
//                       b = the Module Server half (its port, client certificate); both
//                       send the hello with the same random id and wait for 101
//                       (PROTOCOL.md 3.2, 3.3).
//   --target forward:   a = the client's connection to the forwarder, b = the
//                       connection the forwarder made to the harness's backend; a sends
//                       the same hello, the backend answers 101 (backend.hpp).
//
// `target` opens and closes sessions; it owns the SSL contexts (one suite, TLS 1.2 only,
// from common/tls_policy) and, for forward, the backend.

#include "bench/harness/backend.hpp"
#include "bench/harness/io_pool.hpp"
#include "bench/harness/options.hpp"
#include "bench/harness/stats.hpp"
#include "bench/harness/ticket_slot.hpp"
#include "bench/harness/tls_conn.hpp"
#include "common/openssl_ptr.hpp"

#include <absl/status/statusor.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

namespace zp::bench {

using steady_clock = std::chrono::steady_clock;

/// The deadline of every set-up or close phase (connect + handshake + hello + 101).
inline constexpr std::chrono::seconds k_phase_timeout{10};

struct session {
  std::uint64_t number = 0;  // picks the payload seeds
  std::string id;            // 32 lowercase hex characters
  std::unique_ptr<tls_conn> a, b;
  asio::io_context* io = nullptr;  // both connections live here
};

/// When the phases of opening a session ended.
struct open_timing {
  steady_clock::time_point start;         // open() called
  steady_clock::time_point second_hello;  // the later hello written (zoneproxy)
  steady_clock::time_point paired;        // both connections ready (101s received / sent)
};

class target {
 public:
  static absl::StatusOr<std::unique_ptr<target>> make(const options& o, io_pool& pool, error_log& errors);
  ~target();

  /// Done with the open session, or with null after a failure (already counted in the
  /// error log). Runs on `io`.
  using opened_handler = std::function<void(std::shared_ptr<session>, const open_timing&)>;
  void open(asio::io_context& io, const opened_handler& done);
  /// Ends a session cleanly: both sides send close_notify + FIN and read to the other's
  /// end, then close. `done(ok)` runs on the session's context; failures are counted.
  void close(const std::shared_ptr<session>& s, const std::function<void(bool)>& done);
  /// Stops the backend (forward).
  void stop();

  /// --resume: the client-side handshakes of each half so far, and how many resumed
  /// (b: the Module Server half; the forward target's b is the forwarder's, not ours).
  const ticket_slot& a_tickets() const { return a_tickets_; }
  const ticket_slot& b_tickets() const { return b_tickets_; }

  /// "endpoint"/"module server" or "client"/"backend", for error texts.
  const char* a_name() const;
  const char* b_name() const;

 private:
  target(const options& o, io_pool& pool, error_log& errors);
  void open_zoneproxy(asio::io_context& io, const opened_handler& done);
  void open_forward(asio::io_context& io, const opened_handler& done);

  const options& o_;
  error_log& errors_;
  asio::ip::tcp::endpoint endpoint_, module_server_, forwarder_;
  ssl_ctx_ptr a_ctx_, b_ctx_, backend_ctx_;
  std::unique_ptr<backend> backend_;
  ticket_slot a_tickets_, b_tickets_;
  ticket_slot* a_slot() { return o_.resume ? &a_tickets_ : nullptr; }
  ticket_slot* b_slot() { return o_.resume ? &b_tickets_ : nullptr; }
  std::atomic<std::uint64_t> next_number_{0};
};

/// The hello of PROTOCOL.md 3.2 for `id`.
std::string hello_for(const std::string& id);
/// The exact 101 head of PROTOCOL.md 3.3.
inline constexpr std::string_view k_101_head =
    "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: zoneproxy/1\r\n\r\n";

}  // namespace zp::bench
