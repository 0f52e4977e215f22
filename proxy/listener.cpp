#include "proxy/listener.hpp"

#include "common/acceptor.hpp"

namespace zp::proxy {

accept_loop::handlers listener::counted(role kind, worker_counters& counters, target_picker pick) {
  accept_loop::handlers h;
  h.pick = std::move(pick);
  // Both on this worker, whose counters these are.
  h.succeeded = [kind, &counters] { counters.add(counter::accepted, kind); };
  h.failed = [kind, &counters](accept_error why) { counters.add(counter::accept_errors, kind, why); };
  return h;
}

listener::listener(asio::io_context& io, role kind, worker_counters& counters, target_picker pick)
    : loop_(io, std::string(role_name(kind)), counted(kind, counters, std::move(pick))) {}

listener::listener(asio::io_context& io, role kind, worker_counters& counters, accept_handler on_accept)
    : listener(io, kind, counters, [&io, deliver = std::move(on_accept)] {
        return accept_target{&io, deliver};
      }) {}

absl::Status listener::bind(const asio::ip::tcp::endpoint& at) {
  // SO_REUSEPORT: each worker binds its own acceptor to the same port (where it exists;
  // elsewhere only one worker binds, data_plane::start).
  return loop_.bind(at, /*reuse_port=*/true);
}

void listener::apply(const keepalive_settings& k) { set_data_listen_options(loop_.acceptor(), k); }

}  // namespace zp::proxy
