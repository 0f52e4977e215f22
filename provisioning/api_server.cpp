#include "provisioning/api_server.hpp"

#include "common/acceptor.hpp"
#include "common/log.hpp"
#include "common/source_limiter.hpp"
#include "common/strings.hpp"
#include "provisioning/api_connection.hpp"

#include <asio/error.hpp>

#include <algorithm>
#include <array>
#include <chrono>
#include <map>

namespace zp::provisioning {

api_server::api_server(asio::io_context& io, ctx_provider ctx, std::function<bool()> certificates_required,
                       api_handler handler, api_limits limits)
    : ctx_(std::move(ctx)),
      shared_(std::make_shared<shared>(
          shared{std::move(handler), limits, std::move(certificates_required), {}, {}, {}, {}})),
      accept_(io, "provisioning", accept_handlers()) {}

accept_loop::handlers api_server::accept_handlers() {
  accept_loop::handlers h;
  // `this` outlives the loop's handlers: the loop is closed in stop() before the server
  // goes away, and the io_context is run to completion before the server is destroyed.
  h.accepted = [this](asio::ip::tcp::socket socket) { on_accept(std::move(socket)); };
  // Out of descriptors: free one, the oldest anonymous connection first (PROTOCOL.md 3.6:
  // running out of descriptors never stops 17488 from answering a trusted client).
  h.failed = [this](accept_error) { evict_one_anonymous(); };
  return h;
}

api_server::~api_server() { stop(); }

absl::StatusOr<asio::ip::tcp::endpoint> api_server::listen(const asio::ip::tcp::endpoint& at) {
  if (auto st = accept_.bind(at, /*reuse_port=*/false); !st.ok()) return st;
  accept_.start();
  return accept_.local_endpoint();
}

void api_server::stop() {
  accept_.close();
  for (auto& weak : shared_->connections) {
    if (auto c = weak.lock()) c->close();
  }
  shared_->connections.clear();
}

void api_server::close_untrusted(const std::function<bool(X509* client_cert, STACK_OF(X509) * chain)>& trusted) {
  for (auto& weak : shared_->connections) {
    auto c = weak.lock();
    if (!c || c->closed() || !c->trusted() || trusted(c->client_cert(), c->client_chain())) continue;
    shared_->count(api_refusal::untrusted);
    if (c.get() == shared_->serving) {
      c->close_after_response();
    } else {
      c->close();
    }
  }
}

std::uint64_t api_server::refused(api_refusal r) const { return shared_->refused[std::size_t(r)]; }

bool api_server::vouched(const asio::ip::address& source) {
  const auto key = source_key(source);
  auto it = shared_->vouched_sources.find(key);
  if (it == shared_->vouched_sources.end()) return false;
  if (std::chrono::steady_clock::now() - it->second > shared::k_vouch_for) {
    shared_->vouched_sources.erase(it);
    return false;
  }
  // The room is the trusted clients': shared with them, and per source as for anyone.
  const auto in_room = [](const api_connection& c) { return c.trusted() || c.vouched(); };
  return shared_->live_where(in_room) < shared_->limits.max_trusted &&
         shared_->live_where([&](const api_connection& c) { return c.vouched() && source_key(c.source()) == key; }) <
             shared_->limits.max_anonymous_per_source;
}

bool api_server::admit_anonymous(const asio::ip::address& source) {
  const auto key = source_key(source);
  const auto anonymous = [](const api_connection& c) { return !c.trusted() && !c.vouched(); };
  if (shared_->live_where([&](const api_connection& c) { return anonymous(c) && source_key(c.source()) == key; }) >=
      shared_->limits.max_anonymous_per_source) {
    shared_->count(api_refusal::anonymous_per_source);
    return false;
  }
  if (shared_->live_where(anonymous) >= shared_->limits.max_anonymous) evict_one_anonymous();
  return true;
}

void api_server::evict_one_anonymous() {
  // A newcomer may be the trusted client the others are keeping out, and it needs only
  // its handshake to prove it. Who goes: the oldest connection whose ClientHello has not
  // arrived whole (a silent or dripping one: a real client sends it at once), so a
  // connection in the middle of its handshake survives a flood that reconnects faster than
  // a handshake takes; only when every anonymous connection is past its ClientHello, the
  // oldest of them.
  std::shared_ptr<api_connection> victim, oldest;
  for (auto& weak : shared_->connections) {
    auto c = weak.lock();
    if (!c || c->closed() || c->trusted() || c->vouched()) continue;
    if (c->before_client_hello()) {
      victim = std::move(c);
      break;
    }
    if (!oldest) oldest = std::move(c);
  }
  if (!victim) victim = std::move(oldest);
  if (!victim) return;
  shared_->count(api_refusal::anonymous_evicted);
  victim->close();
}

void api_server::on_accept(asio::ip::tcp::socket socket) {
  std::erase_if(shared_->connections, [](const auto& w) {
    auto c = w.lock();
    return !c || c->closed();
  });
  std::error_code ec_remote;
  const auto remote = socket.remote_endpoint(ec_remote);
  const bool vouched_for = !ec_remote && vouched(remote.address());
  if (ec_remote || (!vouched_for && !admit_anonymous(remote.address()))) {
    if (std::uint64_t suppressed = 0; !ec_remote && refusal_log_.allow(suppressed)) {
      spdlog::info("event=api_connection_refused reason=anonymous_per_source peer={} suppressed={}",
                   remote.address().to_string(), suppressed);
    }
    std::error_code ignored;
    socket.set_option(asio::socket_base::linger(true, 0), ignored);
    socket.close(ignored);
  } else {
    std::error_code ignored;
    socket.set_option(asio::ip::tcp::no_delay(true), ignored);
    socket.set_option(asio::socket_base::keep_alive(true), ignored);
    auto ctx = ctx_();
    auto conn = std::make_shared<api_connection>(std::move(socket), remote.address(), ctx.get(), shared_);
    if (vouched_for) conn->vouch();
    shared_->connections.push_back(conn);
    conn->start();
  }
}

}  // namespace zp::provisioning
