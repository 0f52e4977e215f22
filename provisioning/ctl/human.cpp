#include "provisioning/ctl/human.hpp"

#include "common/strings.hpp"

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <iterator>

namespace zp::ctl {

std::string human_duration(double seconds) {
  if (seconds < 0) return "expired";
  if (!(seconds >= 0) || seconds > 1e12) return str_cat(seconds, "s");
  auto s = static_cast<std::uint64_t>(std::llround(seconds));
  const std::uint64_t d = s / 86400, h = s % 86400 / 3600, m = s % 3600 / 60;
  s %= 60;
  if (d > 0) return h > 0 ? str_cat(d, "d", h, "h") : str_cat(d, "d");
  if (h > 0) return m > 0 ? str_cat(h, "h", m, "m") : str_cat(h, "h");
  if (m > 0) return s > 0 ? str_cat(m, "m", s, "s") : str_cat(m, "m");
  return str_cat(s, "s");
}

std::string human_bytes(double bytes) {
  static constexpr const char* k_units[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  std::size_t u = 0;
  while (bytes >= 1024 && u + 1 < std::size(k_units)) {
    bytes /= 1024;
    ++u;
  }
  char out[32];
  std::snprintf(out, sizeof out, u == 0 ? "%.0f %s" : "%.1f %s", bytes, k_units[u]);
  return out;
}

}  // namespace zp::ctl
