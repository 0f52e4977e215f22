#pragma once
// The rendezvous (PROTOCOL.md 3.3, ARCHITECTURE.md "The path of one relayed byte"):
// how two halves that present one session id become one relay_session on one worker.
//
// The protocol, for a half H whose hello is complete, on its worker W1:
//   1. arrive(H): the table stores H (waiting), refuses it (conflict, full), or hands it
//      the opposite half P, which waits on worker W2 (possibly W1). Taking P out of the
//      table is the claim: from then on P belongs to the claimer.
//   2. The claimer picks the session's worker WS, the one with the fewest sessions (W1
//      on a tie, then W2), and hands its own half over at once. On WS (W1 itself, or
//      posted there) the relay_session is created with that half, and the claim is
//      posted to W2.
//   3. On W2, P hands itself over (its fd + SSL* leave W2's io_context, with its early
//      data and what happened to its stream meanwhile) and posts the handoff to WS.
//   Each "posted" is asio::dispatch: a step for the worker it is already on runs at once.
//   4. On WS the session adopts the remote half and starts relaying (both 101s first).
//
// Invariants, relied on by half_connection and relay_session:
//   I1 A half stored in the table is never deleted. It leaves either by its own
//      successful leave() or by a claim; after a claim, the claim message (step 3) is
//      the only thing that may finish it.
//   I2 Exactly one of a claim and a leave() of the same half succeeds (one CAS decides,
//      see session_table.hpp). A half whose leave() fails stays `claimed`, doing nothing
//      until step 3 runs; what made it want to leave (its client ended or failed) travels
//      in the handoff.
//   I3 The session counts the remote handoff as pending from its construction, so it
//      outlives the message of step 3 even if it is closed before it arrives.
//   I4 A half or session is touched only on the worker that owns it; across workers
//      there are only the posts of steps 2 and 3.

#include "common/tls_socket.hpp"
#include "proxy/session_table.hpp"

#include <asio/ip/tcp.hpp>

#include <chrono>
#include <string>

namespace zp::proxy {

class half_connection;

/// The table halves wait in.
using half_table = session_table<half_connection>;

/// What a waiting half's client did to its stream while it waited.
enum class half_stream : std::uint8_t { open, ended, failed };

/// A half on its way to its session: the connection (fd + SSL*) and what the session
/// needs to know about it.
struct half_handoff {
  tls_socket::released connection;
  std::string early_data;
  asio::ip::tcp::endpoint remote;
  std::string cert_sha256;  // Module Server client certificate, empty on 17486
  half_stream stream = half_stream::open;
  unsigned from_worker = 0;                        // where the half waited
  std::chrono::steady_clock::time_point hello_at;  // when its hello was complete
};

namespace rendezvous {

enum class outcome { waiting, paired, conflict, full };

/// Steps 1 and 2, on h's worker. When `paired`, h has been handed to a new session on
/// this worker and is finished; when `waiting`, h is in the table (I1).
outcome arrive(half_connection& h);

/// h (waiting) wants to stop waiting: true if it left the table and is h's own again;
/// false if a peer claimed it first and step 3 is on its way (I2).
bool leave(half_connection& h);

}  // namespace rendezvous
}  // namespace zp::proxy
