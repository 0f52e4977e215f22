#pragma once
// How zoneproxyctl shows sizes and durations to a person, the same in every subcommand
// (status, sessions, top).

#include <string>

namespace zp::ctl {

/// 3h12m, 45s, 2d4h: the two largest units of a duration in seconds; "expired" below 0.
std::string human_duration(double seconds);
/// 1.2 GiB, 512 B: binary units, one decimal.
std::string human_bytes(double bytes);

}  // namespace zp::ctl
