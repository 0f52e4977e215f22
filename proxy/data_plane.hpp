#pragma once
// The data plane as the rest of the process sees it: listeners on 17486/17487 on every
// worker, the session table, and the controls provisioning needs (start with a
// configuration, swap it, drain, stop). PROTOCOL.md sections 2 and 3.
//
// Owner: the daemon. The data plane owns one worker_shard per worker and the shared
// state they use; the workers themselves (threads) belong to the caller and must
// outlive it. Public methods are called from one control thread.

#include "proxy/data_plane_config.hpp"
#include "proxy/plane_shared.hpp"
#include "proxy/reports.hpp"
#include "proxy/stats.hpp"
#include "proxy/worker.hpp"

#include <absl/status/status.h>
#include <openssl/x509.h>
#include <asio/io_context.hpp>

#include <functional>
#include <memory>
#include <vector>

namespace zp::proxy {

class worker_shard;

class data_plane {
 public:
  /// Most waiting halves the session table is ever sized for (see start()).
  static constexpr std::uint64_t k_max_table_capacity = 1'000'000;

  explicit data_plane(worker_pool& workers);
  ~data_plane();
  data_plane(const data_plane&) = delete;
  data_plane& operator=(const data_plane&) = delete;

  /// Binds both listeners on every worker, then starts accepting. If any bind fails
  /// (e.g. the port is taken), nothing stays bound and the error says which port.
  absl::Status start(const std::shared_ptr<const data_plane_config>& config);
  /// Applies new settings or certificates to new connections; live ones keep theirs.
  /// The ports, and the session table's capacity, stay as started.
  void update(std::shared_ptr<const data_plane_config> config);
  /// What the session log writes from the next session on (`session_log`, SIGHUP).
  void set_session_log(session_log_mode mode) { shared_.session_log.store(mode, std::memory_order_relaxed); }
  /// Whether sessions paired from now on hand off to the record layer (`record_layer`).
  void set_record_layer(bool on) { shared_.record_layer.store(on, std::memory_order_relaxed); }
  /// PROTOCOL.md 3.5: closes the listeners, answers waiting halves and new hellos 503,
  /// lets sessions run up to drain_timeout, then closes them. `done` runs on `timers`
  /// once nothing is left.
  void drain(asio::io_context& timers, std::function<void()> done);
  /// Closes everything now and returns when every worker has let go of it.
  void stop();
  /// Tests only: every connection accepted from now on gets the faults `make` returns for
  /// its role (the seam of common/io_faults.hpp). Call before start().
  void inject_faults(std::function<std::unique_ptr<io_faults>(role)> make) { shared_.faults = std::move(make); }

  bool running() const { return running_; }
  /// Bound (endpoint, module server) ports; useful when started on port 0.
  std::pair<std::uint16_t, std::uint16_t> ports() const;
  std::shared_ptr<const data_plane_config> config() const { return shared_.config.load(); }
  /// Live paired sessions, and halves waiting by role.
  std::uint64_t live_sessions() const { return shared_.live_sessions.load(std::memory_order_relaxed); }
  std::size_t waiting(role r) const { return shared_.table ? shared_.table->waiting(r) : 0; }
  bool draining() const { return shared_.draining.load(); }
  /// Waiting halves the pairing table was sized for at start().
  /// A snapshot of every statistic (proxy/stats.hpp), read without stopping anything.
  plane_stats stats() const;
  /// The descriptor reserve of PROTOCOL.md 3.6 (0 before the first start).
  std::uint64_t fd_reserve() const { return shared_.admit.fd_limit() > 0 ? shared_.admit.fd_reserve() : 0; }
  /// Connections (halves + sessions) still held by any worker.
  std::uint64_t held() const;

  /// Live sessions and waiting halves on every worker (gathered on the workers).
  std::vector<session_info> list_sessions();
  /// Ends the session (both halves) or waiting half with this id; false if none.
  bool kill(const session_id& id);
  /// The live sessions and waiting halves whose id starts with `prefix` (the 8 characters
  /// /v1/sessions shows). The ids stay in the process: they are bearer secrets.
  std::vector<session_id> find_by_prefix(std::string_view prefix);
  /// Ends everything presented by this Module Server certificate; how many.
  std::size_t close_revoked(const std::string& cert_sha256);
  /// A test of a Module Server certificate (leaf and the chain its client sent); called on
  /// the workers, so it must be thread-safe.
  using certificate_test = std::function<bool(X509* leaf, STACK_OF(X509) * chain)>;
  /// Ends the sessions and halves whose Module Server certificate `still_trusted` refuses
  /// (its CA was replaced); how many.
  std::size_t close_untrusted(const certificate_test& still_trusted);
  /// The recent errors of every worker, oldest first.
  std::vector<error_record> recent_errors();

 private:
  void run_on_all(const std::function<void(worker_shard&)>& fn);
  void wait_until_released();

  worker_pool& workers_;
  plane_shared shared_;
  std::vector<std::unique_ptr<worker_shard>> shards_;
  bool running_ = false;
};

}  // namespace zp::proxy
