#include "proxy/worker_shard.hpp"

#include "proxy/half_connection.hpp"
#include "proxy/relay_session.hpp"

#include <asio/post.hpp>

namespace zp::proxy {

worker_shard::worker_shard(asio::io_context& io, unsigned index, plane_shared& shared)
    : io_(io), index_(index), shared_(shared), buffers_(k_relay_buffer), hangups_(io) {}

worker_shard::~worker_shard() = default;

listener::accept_target worker_shard::accept_target_for(role side) {
  return {&io_, [this, side](asio::ip::tcp::socket s) { on_accept(side, std::move(s)); }};
}

absl::Status worker_shard::bind(const data_plane_config& config, std::vector<worker_shard*> accept_for) {
  std::error_code ec;
  const auto endpoint_address = asio::ip::make_address(config.endpoint_bind, ec);
  if (ec) return absl::InvalidArgumentError("endpoint_bind: invalid address " + config.endpoint_bind);
  const auto module_server_address = asio::ip::make_address(config.module_server_bind, ec);
  if (ec) return absl::InvalidArgumentError("module_server_bind: invalid address " + config.module_server_bind);
  accept_for_ = std::move(accept_for);
  auto picker = [this](role side) -> listener::target_picker {
    if (accept_for_.empty()) return [this, side] { return accept_target_for(side); };
    return [this, side] { return accept_for_[next_target_++ % accept_for_.size()]->accept_target_for(side); };
  };
  endpoint_listener_.emplace(io_, role::endpoint, counters_, picker(role::endpoint));
  module_server_listener_.emplace(io_, role::module_server, counters_, picker(role::module_server));
  if (auto st = endpoint_listener_->bind({endpoint_address, config.endpoint_port}); !st.ok()) return st;
  if (auto st = module_server_listener_->bind({module_server_address, config.module_server_port}); !st.ok()) return st;
  apply_keepalive(config.settings.keepalive);
  return absl::OkStatus();
}

void worker_shard::apply_keepalive(const keepalive_settings& k) {
  if (endpoint_listener_) endpoint_listener_->apply(k);
  if (module_server_listener_) module_server_listener_->apply(k);
}

std::pair<std::uint16_t, std::uint16_t> worker_shard::bound_ports() const {
  return {endpoint_listener_ ? endpoint_listener_->local_endpoint().port() : std::uint16_t{0},
          module_server_listener_ ? module_server_listener_->local_endpoint().port() : std::uint16_t{0}};
}

void worker_shard::start() {
  asio::post(io_, [this] {
    if (endpoint_listener_) endpoint_listener_->start();
    if (module_server_listener_) module_server_listener_->start();
  });
}

void worker_shard::close_listeners() {
  accepting_ = false;
  if (endpoint_listener_) endpoint_listener_->close();
  if (module_server_listener_) module_server_listener_->close();
}

void worker_shard::begin_drain() {
  close_listeners();
  // on_drain() may finish a half, but deletion is deferred (posted), so the list does
  // not change under this loop.
  for (auto& h : halves_) h->on_drain();
}

void worker_shard::close_all() {
  close_listeners();
  refusals_.flush();
  for (auto& h : halves_) h->abort();
  for (auto& s : sessions_) s->close(end_reason::drain);
}

std::vector<session_info> worker_shard::list_sessions() const {
  std::vector<session_info> out;
  for (const auto& s : sessions_) {
    if (auto info = s->info()) out.push_back(std::move(*info));
  }
  for (const auto& h : halves_) {
    if (auto info = h->info()) out.push_back(std::move(*info));
  }
  for (auto& i : out) i.worker = index_;
  return out;
}

std::vector<session_id> worker_shard::find_by_prefix(std::string_view prefix) const {
  std::vector<session_id> out;
  for (const auto& s : sessions_) {
    if (s->live() && s->id().prefix().rfind(prefix, 0) == 0) out.push_back(s->id());
  }
  for (const auto& h : halves_) {
    if (auto id = h->waiting_id(); id && id->prefix().rfind(prefix, 0) == 0) out.push_back(*id);
  }
  return out;
}

bool worker_shard::kill(const session_id& id) {
  bool found = false;
  for (auto& s : sessions_) {
    if (s->id() == id && s->live()) {
      s->close(end_reason::killed);
      found = true;
    }
  }
  for (auto& h : halves_) found = h->kill_if_waiting(id) || found;
  return found;
}

std::size_t worker_shard::close_revoked(const std::string& cert_sha256) {
  std::size_t n = 0;
  for (auto& s : sessions_) {
    if (s->live() && s->module_server_cert_sha256() == cert_sha256) {
      s->close(end_reason::revoked);
      ++n;
    }
  }
  for (auto& h : halves_) n += h->close_if_certificate(cert_sha256) ? 1 : 0;
  return n;
}

std::size_t worker_shard::close_untrusted(const std::function<bool(X509*, STACK_OF(X509) *)>& test) {
  std::size_t n = 0;
  for (auto& s : sessions_) {
    if (s->live() && !s->module_server_trusted(test)) {
      s->close(end_reason::ca_replaced);
      ++n;
    }
  }
  for (auto& h : halves_) n += h->close_if_untrusted(test) ? 1 : 0;
  return n;
}

void worker_shard::record_error(role listener, const asio::ip::address& peer, std::string_view reason) {
  if (errors_.size() == k_recent_errors) errors_.pop_front();
  errors_.push_back({std::chrono::system_clock::now(), listener, peer.to_string(), std::string(reason)});
}

void worker_shard::refuse_at_accept(role side, asio::ip::tcp::socket& socket, const asio::ip::address& source,
                                    reject_reason why) {
  refuse(side, source, why);
  // PROTOCOL.md 3.6: closed at accept, no TLS, no response; a reset, so no TIME_WAIT is
  // left on our side for a flood.
  std::error_code ignored;
  socket.set_option(asio::socket_base::linger(true, 0), ignored);
  socket.close(ignored);
}

void worker_shard::on_accept(role side, asio::ip::tcp::socket socket) {
  if (!accepting_) return;  // closing the socket is all there is to do
  auto config = shared_.config.load(std::memory_order_acquire);
  std::error_code ec;
  const auto remote = socket.remote_endpoint(ec);
  if (ec) return;  // gone before we looked; closing the socket is all there is to do
  admission_limits::ticket ticket;
  bool in_reserve = false;
  // A balancer's connections (PROTOCOL.md 3.7) count per source once their PROXY header
  // names the client (half_connection), not against the balancer's own address.
  const bool from_balancer = side == role::endpoint && config->settings.from_balancer(remote.address());
  switch (shared_.admit.admit(remote.address(), config->settings, ticket, !from_balancer)) {
    case admission_limits::verdict::refused_per_source:
      return refuse_at_accept(side, socket, remote.address(), reject_reason::admitting_per_source);
    case admission_limits::verdict::refused_total:
      return refuse_at_accept(side, socket, remote.address(), reject_reason::admitting_total);
    case admission_limits::verdict::refused_fd_reserve:
      return refuse_at_accept(side, socket, remote.address(), reject_reason::fd_reserve);
    case admission_limits::verdict::admitted_in_reserve:
      in_reserve = true;
      break;
    case admission_limits::verdict::admitted:
      break;
  }
  halves_.push_back(std::make_unique<half_connection>(*this, side, std::move(socket), remote, std::move(config),
                                                      std::move(ticket), in_reserve));
  half_connection* h = halves_.back().get();
  h->self_ = std::prev(halves_.end());
  half_count_.store(halves_.size(), std::memory_order_relaxed);
  h->start();
}

relay_session* worker_shard::add_session(std::unique_ptr<relay_session> s) {
  sessions_.push_back(std::move(s));
  relay_session* raw = sessions_.back().get();
  raw->self_ = std::prev(sessions_.end());
  return raw;
}

void worker_shard::destroy(half_connection* h) {
  halves_.erase(h->self_);
  half_count_.store(halves_.size(), std::memory_order_relaxed);
}

void worker_shard::destroy(relay_session* s) {
  sessions_.erase(s->self_);
  session_count_.fetch_sub(1, std::memory_order_relaxed);
}

}  // namespace zp::proxy
