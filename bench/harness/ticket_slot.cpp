#include "bench/harness/ticket_slot.hpp"

namespace zp::bench {

void ticket_slot::offer(SSL* ssl) {
  ssl_session_ptr copy;
  {
    std::lock_guard lock(mu_);
    if (!session_) return;
    copy.reset(SSL_SESSION_dup(session_.get()));
  }
  if (copy) SSL_set_session(ssl, copy.get());  // takes its own reference
}

void ticket_slot::keep(SSL* ssl) {
  handshakes_.fetch_add(1, std::memory_order_relaxed);
  if (SSL_session_reused(ssl)) resumed_.fetch_add(1, std::memory_order_relaxed);
  // A renewed ticket arrives in a new session object, so the latest one is always kept.
  SSL_SESSION* got = SSL_get0_session(ssl);
  if (got == nullptr || !SSL_SESSION_is_resumable(got)) return;
  ssl_session_ptr copy(SSL_SESSION_dup(got));
  if (!copy) return;
  std::lock_guard lock(mu_);
  session_ = std::move(copy);
}

}  // namespace zp::bench
