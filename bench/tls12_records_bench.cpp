// The record layer's per-record cost (issue 27): what a handed-off session spends in
// user space on every record it relays, opening it with one connection's keys and
// sealing it in place with the other's (common/tls12_records.hpp, reseal()).
//
// Each iteration relays a buffer of `records` records of `plaintext` bytes there and
// back: reseal(open K1, seal K2), then reseal(open K2, seal K1), as the two directions
// of a session do. items_processed counts records relayed (2 x records per iteration),
// bytes_processed their plaintext. A 64-byte record is an interactive echo (the echo
// latency runs of bench/RESULTS.md); 4 x 16 KiB fill the relay's 64 KiB buffer.
// Results and the command line: bench/RESULTS.md.
#include <benchmark/benchmark.h>

#include <openssl/rand.h>

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <vector>

#include "common/tls12_keys.hpp"
#include "common/tls12_records.hpp"

namespace {

using zp::tls12::record_cipher;

zp::tls12_crypto_info random_keys(std::uint16_t cipher_type) {
  zp::tls12_crypto_info info;
  info.cipher_type = cipher_type;
  if (RAND_bytes(info.key.data(), static_cast<int>(info.key.size())) != 1 ||
      RAND_bytes(info.salt.data(), static_cast<int>(info.salt.size())) != 1) {
    std::cerr << "tls12_records_bench: RAND_bytes failed\n";
    std::exit(1);
  }
  return info;
}

record_cipher must(absl::StatusOr<record_cipher> c) {
  if (!c.ok()) {
    std::cerr << "tls12_records_bench: " << c.status() << "\n";
    std::exit(1);
  }
  return std::move(*c);
}

void relay_records(benchmark::State& state, std::uint16_t cipher_type) {
  const auto plaintext = static_cast<std::size_t>(state.range(0));
  const auto records = static_cast<std::size_t>(state.range(1));
  const zp::tls12_crypto_info k1 = random_keys(cipher_type), k2 = random_keys(cipher_type);
  record_cipher open1 = must(record_cipher::make(k1, false)), seal1 = must(record_cipher::make(k1, true));
  record_cipher open2 = must(record_cipher::make(k2, false)), seal2 = must(record_cipher::make(k2, true));

  const std::size_t record_size = plaintext + zp::tls12::k_overhead;
  std::vector<std::uint8_t> buffer(records * record_size, 0x5a);
  for (std::size_t i = 0; i < records; ++i) {
    if (seal1.seal(zp::tls12::content_type::application_data, buffer.data() + i * record_size, plaintext)) {
      state.SkipWithError("seal failed");
      return;
    }
  }
  for (auto _ : state) {
    const auto there = zp::tls12::reseal(buffer, open1, seal2, zp::tls12::k_max_plaintext);
    const auto back = zp::tls12::reseal(buffer, open2, seal1, zp::tls12::k_max_plaintext);
    if (there.ec || back.ec || there.ready != buffer.size() || back.ready != buffer.size()) {
      state.SkipWithError("reseal failed");
      return;
    }
    benchmark::DoNotOptimize(buffer.data());
  }
  const auto relayed = static_cast<std::int64_t>(state.iterations()) * 2 * static_cast<std::int64_t>(records);
  state.SetItemsProcessed(relayed);
  state.SetBytesProcessed(relayed * static_cast<std::int64_t>(plaintext));
}

void record_sizes(benchmark::internal::Benchmark* b) {
  b->ArgNames({"plaintext", "records"});
  b->Args({64, 1});
  b->Args({1024, 1});
  b->Args({16384, 4});
}

}  // namespace

BENCHMARK_CAPTURE(relay_records, aes128gcm, zp::k_tls_cipher_aes_gcm_128)->Apply(record_sizes);
BENCHMARK_CAPTURE(relay_records, aes256gcm, zp::k_tls_cipher_aes_gcm_256)->Apply(record_sizes);

BENCHMARK_MAIN();
