#pragma once
// The HTTPS control API listener on 17488 (PROTOCOL.md 4): TLS with the section-2
// policy, HTTP/1.1 keep-alive, bounded heads and bodies, a deadline on every phase.
//
// Runs on the control thread's io_context, not on a data-plane worker: provisioning
// writes the state directory with fsync, and that must never stall relaying.
// Owner: the daemon owns the api_server; the server owns its acceptor; each
// api_connection is kept alive by the handlers of its pending operations (asio's
// shared_from_this idiom) and closed by stop().

#include "common/accept_loop.hpp"
#include "common/enum_table.hpp"
#include "common/log.hpp"
#include "provisioning/api_types.hpp"

#include <absl/status/statusor.h>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <memory>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

namespace zp::provisioning {

class api_connection;

/// Bounds of the control API; see the comments for why each is what it is.
struct api_limits {
  std::size_t max_head = 16 * 1024;    // our clients send short heads
  std::size_t max_body = 1024 * 1024;  // PROTOCOL.md 4: larger bodies get 413
  std::chrono::seconds handshake_timeout{10};
  std::chrono::seconds request_timeout{30};  // from first byte to complete request
  std::chrono::seconds idle_timeout{60};     // keep-alive wait between requests
  // PROTOCOL.md 4.2 (1.1): a connection is anonymous until its handshake shows a trusted
  // certificate (before provisioning, for its whole life: token clients). Anonymous ones
  // are bounded per source and in all, and when they are all taken one of them (see
  // api_server.cpp) makes room for the newcomer, so silent connections cannot keep a
  // trusted client from reaching its handshake. Trusted clients have a room of their
  // own, which the next connections of a source that presented a trusted certificate
  // within the hour wait in, out of reach of an anonymous flood.
  std::size_t max_anonymous_per_source = 8;
  std::size_t max_anonymous = 64;
  std::size_t max_trusted = 64;
};

/// Why 17488 turned a connection away or closed it early; counted, shown in /metrics.
enum class api_refusal : std::uint8_t {
  anonymous_per_source,  // closed at accept: that source holds max_anonymous_per_source
  anonymous_evicted,     // the oldest anonymous connection, closed to make room
  anonymous_closed,      // handshake done without a trusted certificate after provisioning
  trusted_full,          // max_trusted trusted connections already open
  handshake_failed,
  untrusted,  // its certificate stopped being trusted (revoked, CA gone)
  count
};
/// Their reason labels, one row each.
inline constexpr enum_name<api_refusal> k_api_refusals[] = {
    {api_refusal::anonymous_per_source, "anonymous_per_source"}, {api_refusal::anonymous_evicted, "anonymous_evicted"},
    {api_refusal::anonymous_closed, "anonymous_closed"},         {api_refusal::trusted_full, "trusted_full"},
    {api_refusal::handshake_failed, "handshake_failed"},         {api_refusal::untrusted, "untrusted"},
};
static_assert(rows_match(k_api_refusals, api_refusal::count));
constexpr std::string_view api_refusal_name(api_refusal r) { return name_in(k_api_refusals, r); }

class api_server {
 public:
  /// Supplies the SSL_CTX for a new connection (it changes on provisioning and
  /// certificate rotation; SSL_new keeps its own reference, so the pointer only needs
  /// to live until the call returns).
  using ctx_provider = std::function<std::shared_ptr<SSL_CTX>()>;

  /// `certificates_required`: true when a connection must show a trusted certificate in
  /// its handshake (provisioned), false when clients are token holders (unprovisioned).
  api_server(asio::io_context& io, ctx_provider ctx, std::function<bool()> certificates_required, api_handler handler,
             api_limits limits = {});
  ~api_server();

  /// Binds and listens; answers the bound endpoint (port 0 picks one).
  absl::StatusOr<asio::ip::tcp::endpoint> listen(const asio::ip::tcp::endpoint& at);
  /// Closes the listener and every open connection.
  void stop();
  /// Closes every connection with a client certificate that `trusted` no longer accepts
  /// (PROTOCOL.md 4.2: revoked, or its CA removed), idle or not.
  void close_untrusted(const std::function<bool(X509* client_cert, STACK_OF(X509) * chain)>& trusted);
  /// Refusals so far, by reason (control thread).
  std::uint64_t refused(api_refusal r) const;
  /// Accepts that failed, by reason.
  std::uint64_t accept_errors(accept_error e) const { return accept_.errors(e); }

  /// Handler and limits, shared with connections so none of them points back here.
  struct shared;

 private:
  accept_loop::handlers accept_handlers();
  void on_accept(asio::ip::tcp::socket socket);

  // Makes room for one more anonymous connection from `source`; false if that source
  // already holds its share.
  bool admit_anonymous(const asio::ip::address& source);
  // Whether a connection from `source` waits for its handshake in the trusted room.
  bool vouched(const asio::ip::address& source);
  // Closes one anonymous connection to make room (see the .cpp for which).
  void evict_one_anonymous();

  ctx_provider ctx_;
  std::shared_ptr<shared> shared_;
  accept_loop accept_;
  // The connections (weak references, oldest first, in shared_) are pruned on accept, so
  // the list holds at most max_anonymous + max_trusted live entries.
  log::rate_limit refusal_log_;
};

}  // namespace zp::provisioning
