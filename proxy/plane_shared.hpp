#pragma once
// What every worker's share of the data plane reads in common. Owned by data_plane;
// outlives every worker_shard, half and session.

#include "common/io_faults.hpp"
#include "common/source_limiter.hpp"
#include "proxy/admission.hpp"
#include "proxy/data_plane_config.hpp"
#include "proxy/rendezvous.hpp"
#include "proxy/session_log.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <vector>

namespace zp::proxy {

class worker_shard;

struct plane_shared {
  /// The configuration new connections take; swapped whole, read without locks.
  std::atomic<std::shared_ptr<const data_plane_config>> config;
  std::unique_ptr<half_table> table;
  /// Waiting halves per source on the endpoint port (PROTOCOL.md 3.4, 429).
  source_limiter pending_per_source;
  /// Everything before pairing (PROTOCOL.md 3.6).
  admission_limits admit;
  /// Live paired sessions across all workers (PROTOCOL.md 3.4: max_sessions). Touched
  /// once when a session starts and once when it ends, never per byte.
  std::atomic<std::uint64_t> live_sessions{0};
  /// Set once when draining starts (PROTOCOL.md 3.5); new hellos get 503.
  std::atomic<bool> draining{false};
  /// What the session log writes (`session_log` in the config, changed by SIGHUP).
  std::atomic<session_log_mode> session_log{session_log_mode::all};
  /// Whether new sessions hand off to the record layer (`record_layer`, SIGHUP).
  std::atomic<bool> record_layer{true};
  /// Every worker's shard, in worker order; set before any worker starts, then fixed.
  /// A new session goes to the one holding the fewest (proxy/rendezvous.cpp).
  std::vector<worker_shard*> shards;
  /// Tests only (common/io_faults.hpp): the faults each new connection's stream gets.
  std::function<std::unique_ptr<io_faults>(role)> faults;
};

}  // namespace zp::proxy
