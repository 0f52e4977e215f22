#pragma once
// The last TLS session one kind of client got (--resume): every new connection of that
// kind offers it, as a real client that keeps its ticket would. One slot per client role
// (endpoint, Module Server, forwarder client), shared by all loops and threads.
//
// Each connection is offered its own copy (SSL_SESSION_dup): a session object is changed
// by the connection that uses it (OpenSSL 3.0 marks it unresumable when that connection
// is freed without a close_notify), and is not shared across threads.

#include "common/openssl_ptr.hpp"

#include <openssl/ssl.h>

#include <atomic>
#include <cstdint>
#include <mutex>

namespace zp::bench {

class ticket_slot {
 public:
  /// Before the handshake: offers a copy of the kept session, if there is one.
  void offer(SSL* ssl);
  /// After a successful handshake: counts it, and keeps its session if it can resume.
  void keep(SSL* ssl);

  std::uint64_t handshakes() const { return handshakes_.load(std::memory_order_relaxed); }
  std::uint64_t resumed() const { return resumed_.load(std::memory_order_relaxed); }

 private:
  std::mutex mu_;
  ssl_session_ptr session_;  // guarded by mu_
  std::atomic<std::uint64_t> handshakes_{0}, resumed_{0};
};

}  // namespace zp::bench
