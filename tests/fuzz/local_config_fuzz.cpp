// libFuzzer target: the operator's TOML configuration (daemon/daemon_config). Invariants:
// no crash, no exception escaping; a refusal is one line naming the file; an accepted
// file leaves every value inside its documented range.

#include "daemon/daemon_config.hpp"

#include <cstdint>
#include <cstdlib>
#include <string_view>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  zp::daemon_config config;
  const absl::Status st = zp::parse_config_text(text, "fuzz.toml", config);
  if (!st.ok()) {
    const std::string message(st.message());
    if (message.rfind("config fuzz.toml", 0) != 0 || message.find('\n') != std::string::npos) std::abort();
    return 0;
  }
  if (config.workers > zp::k_max_workers || config.drain_timeout.count() < 0 || config.drain_timeout.count() > 3600 ||
      config.state_dir.empty()) {
    std::abort();
  }
  return 0;
}
