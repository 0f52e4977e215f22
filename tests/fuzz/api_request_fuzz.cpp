// libFuzzer target: the control API's request parsing (head + body, keep-alive
// pipelining) and the JSON validation of every body (PROTOCOL.md 4.2) on hostile
// bytes. Checks the parser's bounds as invariants, not just the absence of crashes.

#include "common/http_request_parser.hpp"
#include "provisioning/key_factory.hpp"
#include "provisioning/provision_request.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

namespace {

constexpr std::size_t k_head = 16 * 1024;
constexpr std::size_t k_body = 1024 * 1024;

const zp::provisioning::validation_context& context() {
  // Keys are made once: generating RSA keys per input would make fuzzing crawl.
  static zp::evp_pkey_ptr rsa = std::move(*zp::provisioning::generate_key(zp::provisioning::key_type::rsa));
  static zp::evp_pkey_ptr ecdsa = std::move(*zp::provisioning::generate_key(zp::provisioning::key_type::ecdsa));
  static zp::provisioning::validation_context ctx{rsa.get(), ecdsa.get(), 17488, 1'800'000'000};
  return ctx;
}

void validate(const std::string& body) {
  auto parsed = zp::provisioning::parse_json_object(body);
  auto* json = std::get_if<nlohmann::json>(&parsed);
  if (json == nullptr) return;
  (void)zp::provisioning::parse_provision(*json, context());
  (void)zp::provisioning::parse_csr(*json);
  (void)zp::provisioning::parse_fingerprint(*json);
  (void)zp::provisioning::parse_settings(*json, "settings", zp::proxy::session_settings{});
  (void)zp::provisioning::parse_certificates(*json, "certificates", context());
}

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
    validate(parser.request().body);
    parser.reset();
  }
  return 0;
}
