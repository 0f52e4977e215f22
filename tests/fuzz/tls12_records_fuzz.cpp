// libFuzzer target: the TLS 1.2 record layer's parser and relay step
// (common/tls12_records.hpp). Two ways to read an input, by its first byte:
// - even: raw bytes off the wire, resealed as one run and again cut in two at a point
//   the input chooses; both must agree (ready, plaintext, end, error), ready must fall on
//   a record boundary, and nothing may read past the input.
// - odd: a script of records (type, size, fill byte, a byte to flip) sealed with the
//   sender's keys, so the run gets past the tag check; then every application record
//   before the first other one must come out, opened with the receiver's keys, as it went
//   in, and a flipped byte must stop the run at its record.

#include "common/tls12_records.hpp"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <vector>

namespace {

using namespace zp;
using namespace zp::tls12;

record_cipher cipher(std::uint16_t type, std::uint8_t seed, bool seal) {
  tls12_crypto_info info;
  info.cipher_type = type;
  for (std::size_t i = 0; i < info.key.size(); ++i) info.key[i] = static_cast<std::uint8_t>(seed + i);
  info.salt = {seed, 1, 2, 3};
  auto c = record_cipher::make(info, seal);
  if (!c.ok()) std::abort();
  return std::move(*c);
}

struct relay {
  record_cipher sender = cipher(k_tls_cipher_aes_gcm_128, 1, true);
  record_cipher from = cipher(k_tls_cipher_aes_gcm_128, 1, false);
  record_cipher to = cipher(k_tls_cipher_aes_gcm_256, 9, true);
  record_cipher receiver = cipher(k_tls_cipher_aes_gcm_256, 9, false);
};

bool same(const reseal_result& a, const reseal_result& b) {
  return a.ready == b.ready && a.plaintext == b.plaintext && a.close_notify == b.close_notify && a.ec == b.ec;
}

void raw(std::span<const std::uint8_t> in, std::size_t cut) {
  std::vector<std::uint8_t> whole(in.begin(), in.end());
  relay a;
  const reseal_result r = reseal(whole, a.from, a.to, k_max_plaintext);
  if (r.ready > in.size() || r.plaintext > r.ready) std::abort();
  // Cut in two, as two reads would deliver it: the second run starts where the first
  // stopped ready (the relay keeps the incomplete tail).
  std::vector<std::uint8_t> split(in.begin(), in.end());
  relay b;
  cut = std::min(cut, split.size());
  reseal_result first = reseal(std::span(split).first(cut), b.from, b.to, k_max_plaintext);
  reseal_result total = first;
  if (!first.ec && !first.close_notify) {
    const reseal_result rest = reseal(std::span(split).subspan(first.ready), b.from, b.to, k_max_plaintext);
    total.ready = first.ready + rest.ready;
    total.plaintext = first.plaintext + rest.plaintext;
    total.close_notify = rest.close_notify;
    total.ec = rest.ec;
  } else if (!same(first, r)) {
    // It stopped within the cut: so must the whole run, at the same place.
    std::abort();
  }
  if (!same(total, r)) std::abort();
  // (memcmp's pointers must not be null, even for 0 bytes: an empty input has none.)
  if (r.ready > 0 && std::memcmp(whole.data(), split.data(), r.ready) != 0) std::abort();
}

void script(std::span<const std::uint8_t> in) {
  relay x;
  std::vector<std::uint8_t> wire;
  std::vector<std::vector<std::uint8_t>> sent;  // plaintext of each application record, in order
  bool stopped = false;                         // a record that ends the run was written
  while (in.size() >= 5 && wire.size() < 200000) {
    const auto type = static_cast<content_type>(in[0] % 4 == 0 ? 20 + in[0] % 5 : 23);
    const std::size_t size = ((std::size_t{in[1]} << 8) | in[2]) % (k_max_plaintext + 1);
    const std::uint8_t fill = in[3];
    const std::uint8_t flip = in[4];
    in = in.subspan(5);
    std::vector<std::uint8_t> rec(size + k_overhead, fill);
    if (type == content_type::alert && size >= 2) rec[k_header + k_explicit_nonce + 1] = fill % 2 ? 0 : fill;
    if (x.sender.seal(type, rec.data(), size)) std::abort();
    if (flip != 0 && flip < rec.size()) rec[flip] ^= 0x80;
    if (!stopped && type == content_type::application_data && !(flip != 0 && flip < rec.size())) {
      sent.emplace_back(rec.begin(), rec.end());
      std::vector<std::uint8_t>& p = sent.back();
      p.assign(size, fill);
    } else {
      stopped = true;
    }
    wire.insert(wire.end(), rec.begin(), rec.end());
  }
  const reseal_result r = reseal(wire, x.from, x.to, k_max_plaintext);
  if (!stopped && (r.ec || r.close_notify || r.ready != wire.size())) std::abort();
  // Every record that came out opens, with the receiver's keys, to what was sent.
  std::size_t at = 0;
  std::size_t n = 0;
  while (at < r.ready) {
    record_header h;
    if (parse_header(std::span<const std::uint8_t>(wire).subspan(at), k_max_plaintext, h) || h.size == 0) std::abort();
    if (x.receiver.open(wire.data() + at, h.size)) std::abort();
    if (n >= sent.size() || h.size - k_overhead != sent[n].size() ||
        (!sent[n].empty() &&
         std::memcmp(wire.data() + at + k_header + k_explicit_nonce, sent[n].data(), sent[n].size()) != 0)) {
      std::abort();
    }
    at += h.size;
    ++n;
  }
  if (n != sent.size() && !r.ec && !r.close_notify) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const std::span<const std::uint8_t> in(data + 2, size - 2);
  if (data[0] % 2 == 0) {
    raw(in, data[1] * 97u);
  } else {
    script(in);
  }
  return 0;
}
