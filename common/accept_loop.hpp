#pragma once
// The one accept loop every listener runs: the data ports, 17488 and the plain-HTTP
// metrics port. An accept that fails leaves the connection in the kernel's backlog; out
// of descriptors (EMFILE, ENFILE) or buffers (ENOBUFS, ENOMEM) a retry at once would spin,
// so the loop waits, 10 ms doubling up to 1 s, reset by the next success. Every failure
// is counted by reason and logged (event=accept_failed) at most once per 10 s with how
// many lines were left out.
//
// Owner: its listener; runs on the acceptor's io_context only. Pending handlers share the
// loop's state, so one that completes after close() touches nothing else.

#include "common/accept_error.hpp"

#include <absl/status/status.h>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <system_error>

namespace zp {

accept_error classify_accept_error(const std::error_code& ec);

class accept_loop {
 public:
  /// Where the next connection goes: the io_context it is accepted into (it belongs to
  /// that context's thread from then on), and what takes it, called on the loop's thread.
  struct target {
    asio::io_context* io;
    std::function<void(asio::ip::tcp::socket)> deliver;
  };
  struct handlers {
    /// Called before each accept; empty: this loop's io_context and `accepted`.
    std::function<target()> pick;
    std::function<void(asio::ip::tcp::socket)> accepted;
    /// On the loop's thread after each success, before the connection is delivered.
    std::function<void()> succeeded;
    /// After a failure was counted and logged (the API server frees a descriptor here).
    std::function<void(accept_error)> failed;
  };

  /// `name` is the listener's name in the log line.
  accept_loop(asio::io_context& io, std::string name, handlers h);
  ~accept_loop();
  accept_loop(const accept_loop&) = delete;
  accept_loop& operator=(const accept_loop&) = delete;

  /// Opens, binds and listens (common/acceptor.hpp's open_acceptor).
  absl::Status bind(const asio::ip::tcp::endpoint& at, bool reuse_port);
  asio::ip::tcp::acceptor& acceptor();
  asio::ip::tcp::endpoint local_endpoint() const;
  void start();
  /// Stops accepting and closes the socket; idempotent.
  void close();
  /// Failures so far, by reason (any thread).
  std::uint64_t errors(accept_error e) const;

 private:
  struct state;
  static void do_accept(const std::shared_ptr<state>& st);
  static void on_accept(const std::shared_ptr<state>& st, std::error_code ec, asio::ip::tcp::socket socket,
                        const target& to);
  std::shared_ptr<state> state_;
};

}  // namespace zp
