#include "proxy/rendezvous.hpp"

#include "proxy/half_connection.hpp"
#include "proxy/relay_session.hpp"
#include "proxy/worker_shard.hpp"

#include <asio/post.hpp>

#include <memory>
#include <utility>

namespace zp::proxy::rendezvous {
namespace {

// Step 3, on the claimed half's worker. The half cannot have been deleted since the claim
// (I1), and its shard reference never changes.
void on_claimed(half_connection& peer, worker_shard& target, relay_session* session) {
  asio::post(target.io(), [session, h = peer.hand_over()]() mutable { session->adopt_remote(std::move(h)); });
}

}  // namespace

outcome arrive(half_connection& h) {
  worker_shard& shard = h.shard();
  // R1 of session_table.cpp: storing h publishes everything h did before this call, and a
  // claimer that finds h sees it. A claim message may be posted to h's worker the moment
  // h is stored; it runs after this function returns (I4).
  const half_table::arrive_result res = shard.shared().table->arrive(h.id(), h.side(), &h);
  switch (res.what) {
    case half_table::outcome::waiting:
      return outcome::waiting;
    case half_table::outcome::conflict:
      return outcome::conflict;
    case half_table::outcome::full:
      return outcome::full;
    case half_table::outcome::paired:
      break;
  }
  half_connection* peer = res.peer;
  relay_session* session = shard.add_session(
      std::make_unique<relay_session>(shard, h.id(), h.config(), h.hello_done_at(), h.side(), h.hand_over()));
  asio::post(peer->shard().io(), [peer, &target = shard, session] { on_claimed(*peer, target, session); });
  return outcome::paired;
}

bool leave(half_connection& h) { return h.shard().shared().table->cancel(h.id(), h.side(), &h); }

}  // namespace zp::proxy::rendezvous
