#include "proxy/rendezvous.hpp"

#include "proxy/half_connection.hpp"
#include "proxy/relay_session.hpp"
#include "proxy/worker_shard.hpp"

#include <asio/dispatch.hpp>

#include <memory>
#include <utility>

namespace zp::proxy::rendezvous {
namespace {

// Each step runs on the worker that owns what it touches (I4) through asio::dispatch: at
// once when it is already there, posted otherwise. A post to the worker it is on would
// only queue the pairing behind everything else that worker has to do (handshakes under
// load): with placement that was up to three queues, and it cost the pairing p50.

// Step 3, on the claimed half's worker. The half cannot have been deleted since the claim
// (I1), and its shard reference never changes.
void on_claimed(half_connection& peer, worker_shard& target, relay_session* session) {
  asio::dispatch(target.io(), [session, h = peer.hand_over()]() mutable { session->adopt_remote(std::move(h)); });
}

// Where a new session lives: the worker with the fewest sessions. Sessions are long-lived
// and stay where they start, while the kernel spreads the halves over the workers'
// listeners by a hash of their addresses: left there, 8 sessions over 2 workers split 6/2
// or worse a quarter of the time, and the busier worker's sessions wait for it while the
// other idles. On a tie the claimer's worker (only the claimed half moves, the cheapest),
// then the claimed half's.
worker_shard& place(worker_shard& claimer, worker_shard& claimed) {
  worker_shard* best = &claimer;
  if (claimed.session_count() < best->session_count()) best = &claimed;
  for (worker_shard* s : claimer.shared().shards) {
    if (s->session_count() < best->session_count()) best = s;
  }
  best->place_session();
  return *best;
}

// What step 2 hands to the session's worker: the claimer's half and what the session
// needs of it (the claimer is finished once arrive() returns), and the claimed peer.
struct claim {
  session_id id;
  std::shared_ptr<const data_plane_config> config;
  std::chrono::steady_clock::time_point paired_at;
  role side;
  half_handoff half;
  half_connection* peer;
};

// Step 2 on the session's worker: the session with the claimer's half, then the claim.
void open_session(worker_shard& home, claim c) {
  relay_session* session = home.add_session(
      std::make_unique<relay_session>(home, c.id, std::move(c.config), c.paired_at, c.side, std::move(c.half)));
  asio::dispatch(c.peer->shard().io(), [peer = c.peer, &home, session] { on_claimed(*peer, home, session); });
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
  // Read after the claim, not h's hello time: the peer may have read its clock after h
  // did and still been stored first (two workers), and a wait is never negative.
  const auto paired_at = std::chrono::steady_clock::now();
  worker_shard& home = place(shard, peer->shard());
  claim c{h.id(), h.config(), paired_at, h.side(), h.hand_over(), peer};
  // The claimed half stays claimed, doing nothing, until the claim reaches it (I1).
  asio::dispatch(home.io(), [&home, c = std::move(c)]() mutable { open_session(home, std::move(c)); });
  return outcome::paired;
}

bool leave(half_connection& h) { return h.shard().shared().table->cancel(h.id(), h.side(), &h); }

}  // namespace zp::proxy::rendezvous
