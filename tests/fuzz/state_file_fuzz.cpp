// libFuzzer target: the state files a damaged disk or a hostile hand could leave
// (provisioned.json, trust.json; PROTOCOL.md 4.3). Invariants: never a crash or an
// exception (a wrong type once aborted the daemon), every refusal names a field, and
// whatever is accepted survives its own round trip unchanged.

#include "provisioning/provisioned_state.hpp"
#include "provisioning/trust.hpp"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const auto j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return 0;
  if (auto p = zp::provisioning::provisioned_from_json(j); p.ok()) {
    auto again = zp::provisioning::provisioned_from_json(zp::provisioning::to_json(*p));
    if (!again.ok() || zp::provisioning::to_json(*again) != zp::provisioning::to_json(*p)) std::abort();
  } else if (p.status().message().empty()) {
    std::abort();
  }
  if (auto t = zp::provisioning::trust_from_json(j); t.ok()) {
    auto again = zp::provisioning::trust_from_json(zp::provisioning::to_json(*t));
    if (!again.ok() || zp::provisioning::to_json(*again) != zp::provisioning::to_json(*t)) std::abort();
  } else if (t.status().message().empty()) {
    std::abort();
  }
  return 0;
}
