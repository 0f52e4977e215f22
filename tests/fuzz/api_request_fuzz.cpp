// libFuzzer target: the control API's request parsing (head + body, keep-alive
// pipelining) on hostile bytes. Checks the parser's bounds as invariants, not just the
// absence of crashes. The bodies' JSON has its own target, api_body_fuzz.

#include "common/http_request_parser.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

constexpr std::size_t k_head = 16 * 1024;
constexpr std::size_t k_body = 1024 * 1024;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 128;
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  zp::http_request_parser parser(k_head, k_body, /*head_only=*/false);
  std::size_t offset = 0;
  // Up to a few pipelined requests per input, as keep-alive delivers them.
  for (int request = 0; request < 4 && offset < in.size(); ++request) {
    while (offset < in.size() && parser.current() == zp::http_request_parser::state::need_more) {
      const std::string_view piece = in.substr(offset, chunk);
      const std::size_t used = parser.feed(piece);
      if (used > piece.size()) std::abort();
      offset += used;
      if (used == 0 && parser.current() == zp::http_request_parser::state::need_more) std::abort();
    }
    if (parser.current() != zp::http_request_parser::state::complete) break;
    if (parser.request().body.size() > k_body) std::abort();
    parser.reset();
  }
  return 0;
}
