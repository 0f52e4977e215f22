// libFuzzer target: the rendezvous hello parser and judge (PROTOCOL.md 3.2/3.4) on
// hostile bytes, fed in the chunk sizes the input itself chooses, as TLS records would
// deliver them. Checks invariants, not just absence of crashes.

#include "proxy/data_plane_config.hpp"
#include "proxy/hello.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::size_t chunk = 1 + data[0] % 64;  // first byte: how the stream is split
  std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  auto parser = zp::proxy::make_hello_parser();
  std::size_t offset = 0;
  while (offset < in.size() && parser.current() == zp::http_request_parser::state::need_more) {
    const std::string_view piece = in.substr(offset, chunk);
    const std::size_t used = parser.feed(piece);
    if (used > piece.size()) std::abort();
    offset += used;
    if (used < piece.size() && parser.current() == zp::http_request_parser::state::need_more) std::abort();
  }
  if (parser.current() == zp::http_request_parser::state::need_more) {
    // Undecided only while the head is shorter than the bound.
    if (offset > zp::proxy::k_max_hello_head) std::abort();
    return 0;
  }
  if (offset > zp::proxy::k_max_hello_head) std::abort();  // the head bound holds
  auto verdict = zp::proxy::check_hello(parser);
  if (auto* error = std::get_if<zp::proxy::hello_error>(&verdict)) {
    switch (error->status()) {
      case 400:
      case 404:
      case 405:
      case 426:
        break;
      default:
        std::abort();  // the head alone can only produce these
    }
  } else if (std::get<zp::proxy::session_id>(verdict).prefix().size() != 8) {
    std::abort();
  }
  return 0;
}
