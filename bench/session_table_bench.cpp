// Session table microbenchmarks (issue 3): the lock-free table against two locked
// baselines with the same interface and semantics (full first, then pair / conflict /
// wait), at 1, 2 and 4 threads. Results and the command line: bench/RESULTS.md.
//
// items_processed counts table calls (arrive or cancel), so items/s is operations per
// second in every benchmark:
//   pair_round_trip  arrive(endpoint) -> waiting, arrive(module_server) -> paired: 2 items
//   arrive_cancel    arrive(endpoint) -> waiting, cancel -> true:                 2 items
//   lookup_conflict  arrive(endpoint) of an id that already has a waiting endpoint in a
//                    table prefilled with 100,000 waiting halves -> conflict:   1 item
//                    (a pure lookup: nothing changes, the table stays at 100,000)
// Each thread uses its own ids, so threads contend only inside the table.
#include <absl/container/flat_hash_map.h>
#include <absl/hash/hash.h>
#include <absl/synchronization/mutex.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "proxy/session_table.hpp"

namespace {

using zp::proxy::role;
using zp::proxy::session_id;
using zp::proxy::session_table;
using table = session_table<int>;
using outcome = table::outcome;

constexpr std::size_t k_capacity = 1 << 17;   // max_pending of every table here
constexpr std::size_t k_prefilled = 100'000;  // waiting halves in the lookup tables

struct waiting_half {
  role r;
  table::half h;
};

// The locked baselines: one lock around a map from id to the waiting half.
template <typename Mutex, typename Map>
class locked_table {
 public:
  // No reserve(): a map that holds only what is waiting stays small and cache-hot, the
  // baselines' best case (the lock-free table must preallocate for max_pending).
  explicit locked_table(std::size_t max_pending) : max_pending_(max_pending) {}

  table::arrive_result arrive(const session_id& id, role r, table::half h) {
    std::lock_guard lock(mu_);
    if (map_.size() >= max_pending_) return {outcome::full};
    auto it = map_.find(id);
    if (it == map_.end()) {
      map_.emplace(id, waiting_half{r, h});
      return {outcome::waiting};
    }
    if (it->second.r == r) return {outcome::conflict};
    const table::half peer = it->second.h;
    map_.erase(it);
    return {outcome::paired, peer};
  }

  bool cancel(const session_id& id, role r, table::half h) {
    std::lock_guard lock(mu_);
    auto it = map_.find(id);
    if (it == map_.end() || it->second.r != r || it->second.h != h) return false;
    map_.erase(it);
    return true;
  }

 private:
  Mutex mu_;
  Map map_;
  std::size_t max_pending_;
};

// This absl predates Mutex::lock()/unlock(); std::lock_guard needs those names.
struct absl_mutex {
  void lock() { mu.Lock(); }
  void unlock() { mu.Unlock(); }
  absl::Mutex mu;
};

// Distinct types so the benchmark names say which table ran.
struct lock_free : table {
  using table::table;
};
struct std_mutex_unordered_map
    : locked_table<std::mutex, std::unordered_map<session_id, waiting_half, absl::Hash<session_id>>> {
  using locked_table::locked_table;
};
struct absl_mutex_flat_hash_map : locked_table<absl_mutex, absl::flat_hash_map<session_id, waiting_half>> {
  using locked_table::locked_table;
};

// Deterministic, well-spread ids: a 64-bit mix of (stream, n). Streams keep threads'
// ids apart and away from the prefilled ones.
std::uint64_t mix(std::uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
session_id make_id(std::uint64_t stream, std::uint64_t n) {
  return session_id{mix(stream * 0x9e3779b97f4a7c15ULL + n), mix(~n ^ stream)};
}

// Each thread cycles through its own ring of ids: 4096 by default (its records then
// outgrow L1 and mostly L2, as a busy worker's would), ZP_BENCH_IDS_PER_THREAD to vary it.
std::size_t ids_per_thread() {
  static const std::size_t n = [] {
    const char* v = std::getenv("ZP_BENCH_IDS_PER_THREAD");
    return v != nullptr && *v != '\0' ? std::max<std::size_t>(1, std::strtoull(v, nullptr, 10)) : 4096;
  }();
  return n;
}

std::vector<session_id> thread_ids(const benchmark::State& state) {
  std::vector<session_id> ids(ids_per_thread());
  for (std::size_t i = 0; i < ids.size(); ++i) ids[i] = make_id(1000 + state.thread_index(), i);
  return ids;
}

// One table per benchmark and table type, shared by the threads of a run and reused by
// the next run (every iteration leaves the table as it found it).
template <typename Table, int Which>
Table& shared_table() {
  static Table table(k_capacity);
  return table;
}

template <typename Table>
void pair_round_trip(benchmark::State& state) {
  Table& table = shared_table<Table, 0>();
  const auto ids = thread_ids(state);
  int endpoint = 0, module_server = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const session_id& id = ids[i++ % ids.size()];
    const auto first = table.arrive(id, role::endpoint, &endpoint);
    const auto second = table.arrive(id, role::module_server, &module_server);
    if (first.what != outcome::waiting || second.what != outcome::paired) {
      state.SkipWithError("unexpected outcome");
      break;
    }
    benchmark::DoNotOptimize(second.peer);
  }
  state.SetItemsProcessed(2 * static_cast<std::int64_t>(state.iterations()));
}

template <typename Table>
void arrive_cancel(benchmark::State& state) {
  Table& table = shared_table<Table, 1>();
  const auto ids = thread_ids(state);
  int endpoint = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const session_id& id = ids[i++ % ids.size()];
    const auto first = table.arrive(id, role::endpoint, &endpoint);
    const bool cancelled = table.cancel(id, role::endpoint, &endpoint);
    if (first.what != outcome::waiting || !cancelled) {
      state.SkipWithError("unexpected outcome");
      break;
    }
  }
  state.SetItemsProcessed(2 * static_cast<std::int64_t>(state.iterations()));
}

template <typename Table>
struct prefilled {
  prefilled() : table(k_capacity) {
    for (std::size_t n = 0; n < k_prefilled; ++n) table.arrive(make_id(1, n), role::endpoint, &owner);
  }
  Table table;
  int owner = 0;
};

template <typename Table>
Table& prefilled_table() {
  static prefilled<Table> p;  // built once, by the first thread to get here
  return p.table;
}

template <typename Table>
void lookup_conflict(benchmark::State& state) {
  Table& table = prefilled_table<Table>();
  // Precomputed ids so the loop times the table, not the id mixing.
  std::vector<session_id> ids(16384);
  std::uint64_t x = mix(state.thread_index() + 77);
  for (auto& id : ids) {
    x = mix(x);
    id = make_id(1, (x >> 32) * k_prefilled >> 32);
  }
  int probe = 0;
  std::size_t i = 0;
  for (auto _ : state) {
    const auto r = table.arrive(ids[i++ % ids.size()], role::endpoint, &probe);
    if (r.what != outcome::conflict) {
      state.SkipWithError("unexpected outcome");
      break;
    }
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
}

#define ZP_TABLE_BENCH(fn, table) BENCHMARK_TEMPLATE(fn, table)->Threads(1)->Threads(2)->Threads(4)->UseRealTime()

ZP_TABLE_BENCH(pair_round_trip, lock_free);
ZP_TABLE_BENCH(pair_round_trip, std_mutex_unordered_map);
ZP_TABLE_BENCH(pair_round_trip, absl_mutex_flat_hash_map);
ZP_TABLE_BENCH(arrive_cancel, lock_free);
ZP_TABLE_BENCH(arrive_cancel, std_mutex_unordered_map);
ZP_TABLE_BENCH(arrive_cancel, absl_mutex_flat_hash_map);
ZP_TABLE_BENCH(lookup_conflict, lock_free);
ZP_TABLE_BENCH(lookup_conflict, std_mutex_unordered_map);
ZP_TABLE_BENCH(lookup_conflict, absl_mutex_flat_hash_map);

}  // namespace

int main(int argc, char** argv) {
  // Debian's absl is built without NDEBUG, so absl::Mutex would run its deadlock-cycle
  // detector on every Lock(); a production build turns it off, and so do we, or the absl
  // baseline measures the detector.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  // The lock-free tables ask for transparent huge pages; say whether they got them (a
  // table on 4 KiB pages pays TLB misses and runs visibly slower).
  std::ifstream smaps("/proc/self/smaps_rollup");
  for (std::string line; std::getline(smaps, line);) {
    if (line.rfind("AnonHugePages:", 0) == 0) std::cerr << line << "\n";
  }
  return 0;
}
