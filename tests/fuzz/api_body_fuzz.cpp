// libFuzzer target: the JSON bodies of PROTOCOL.md 4.2 (provision, settings, certificates,
// csr, revoke's fingerprint) as a hostile Module Server or a token thief could send them.
// Invariants: never a crash or an exception, every refusal names a field and says why,
// and accepted settings survive their own round trip unchanged.

#include "provisioning/key_factory.hpp"
#include "provisioning/provision_request.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string_view>
#include <variant>

namespace {

using namespace zp::provisioning;

template <typename T>
void check_refusal(const validated<T>& v) {
  if (const auto* e = std::get_if<field_error>(&v); e != nullptr && e->message.empty()) std::abort();
}

// The proxy's own keys, made once (per input would make fuzzing crawl): certificates
// in a body must match them.
const validation_context& context() {
  static zp::evp_pkey_ptr rsa = std::move(*generate_key(key_type::rsa));
  static zp::evp_pkey_ptr ecdsa = std::move(*generate_key(key_type::ecdsa));
  static validation_context ctx{rsa.get(), ecdsa.get(), 17488, std::time(nullptr)};
  return ctx;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  auto parsed = parse_json_object(text);
  check_refusal(parsed);
  const auto* body = std::get_if<nlohmann::json>(&parsed);
  if (body == nullptr) return 0;
  const auto& ctx = context();
  check_refusal(parse_provision(*body, ctx));
  check_refusal(parse_csr(*body));
  check_refusal(parse_fingerprint(*body));
  check_refusal(parse_certificates(*body, "certificates", ctx));
  const zp::proxy::session_settings defaults{};
  auto settings = parse_settings(*body, "settings", defaults);
  check_refusal(settings);
  if (const auto* s = std::get_if<zp::proxy::session_settings>(&settings)) {
    auto again = parse_settings(settings_to_json(*s), "settings", defaults);
    const auto* s2 = std::get_if<zp::proxy::session_settings>(&again);
    if (s2 == nullptr || settings_to_json(*s2) != settings_to_json(*s)) std::abort();
  }
  return 0;
}
