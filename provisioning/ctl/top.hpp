#pragma once
// zoneproxyctl top: a live view of a proxy for an operator on the box without Grafana,
// redrawn every interval like htop: sessions and their limits, admission, throughput,
// pairing latency, refusals and handshake failures by reason (as rates over the last
// interval), descriptors and memory against their limits, the nearest certificate expiry.
// Read-only: an observer's certificate is enough.

#include "provisioning/ctl/api_client.hpp"

#include <chrono>
#include <map>
#include <string>

namespace zp::ctl {

/// One scrape of /metrics as name{labels} -> value (labels as written in the text).
using samples = std::map<std::string, double>;
samples parse_exposition(const std::string& text);

/// The screen for the scrape `now` after `before`, `seconds` apart (rates come from the
/// counters' differences; the first screen, with no `before`, shows totals).
std::string render_top(const samples& now, const samples* before, double seconds, const std::string& target);

/// Redraws until interrupted, or `refreshes` times when not 0, every poll on `client` (so
/// all but the first resume its TLS session). Exit status as zoneproxyctl's: 0, 1 when
/// the proxy refuses, 3 when it cannot be reached.
int run_top(api_client& client, std::chrono::milliseconds interval, unsigned refreshes);

}  // namespace zp::ctl
