#include "provisioning/ctl/top.hpp"

#include "common/strings.hpp"

#include <fmt/format.h>

#include "common/terminal.hpp"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <ctime>
#include <sstream>
#include <thread>
#include <vector>

namespace zp::ctl {
namespace {

// Sum of every sample of a family whose labels contain all of `with` (e.g. reason="x").
double sum(const samples& s, const std::string& family, const std::string& with = {}) {
  double total = 0;
  for (auto it = s.lower_bound(family); it != s.end() && it->first.compare(0, family.size(), family) == 0; ++it) {
    const std::string& key = it->first;
    if (key.size() > family.size() && key[family.size()] != '{') continue;  // another family with this prefix
    if (!with.empty() && key.find(with) == std::string::npos) continue;
    total += it->second;
  }
  return total;
}

// The value of label `name` in a sample key.
std::string label(const std::string& key, const std::string& name) {
  const auto at = key.find(name + "=\"");
  if (at == std::string::npos) return {};
  const auto start = at + name.size() + 2;
  return key.substr(start, key.find('"', start) - start);
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) {
    b /= 1024;
    ++u;
  }
  return u == 0 ? fmt::format("{:.0f} B", b) : fmt::format("{:.1f} {}", b, units[u]);
}

std::string human_duration(double s) {
  if (s < 0) return "expired";
  if (s < 120) return fmt::format("{:.0f}s", s);
  if (s < 7200) return fmt::format("{:.0f}m", s / 60);
  if (s < 3 * 86400) return fmt::format("{}h{:02.0f}m", static_cast<long>(s / 3600), std::fmod(s, 3600) / 60);
  return fmt::format("{:.0f}d", s / 86400);
}

// A quantile of a histogram family from its cumulative buckets (between two scrapes when
// `before` is given), by linear interpolation inside the bucket, as Prometheus does.
double quantile(const samples& now, const samples* before, const std::string& family, double q) {
  std::vector<std::pair<double, double>> buckets;  // (le, cumulative count)
  const std::string prefix = family + "_bucket{";
  for (auto it = now.lower_bound(prefix); it != now.end() && it->first.rfind(prefix, 0) == 0; ++it) {
    const std::string le = label(it->first, "le");
    double count = it->second;
    if (before) {
      if (auto b = before->find(it->first); b != before->end()) count -= b->second;
    }
    buckets.emplace_back(le == "+Inf" ? INFINITY : std::stod(le), count);
  }
  std::sort(buckets.begin(), buckets.end());
  if (buckets.empty() || buckets.back().second <= 0) return NAN;
  const double rank = q * buckets.back().second;
  double lower = 0, below = 0;
  for (const auto& [le, count] : buckets) {
    if (count >= rank) {
      if (std::isinf(le)) return lower;
      return lower + (le - lower) * (count == below ? 0 : (rank - below) / (count - below));
    }
    lower = le;
    below = count;
  }
  return lower;
}

}  // namespace

samples parse_exposition(const std::string& text) {
  samples out;
  std::istringstream lines(text);
  for (std::string line; std::getline(lines, line);) {
    if (line.empty() || line[0] == '#') continue;
    const auto space = line.rfind(' ');
    if (space == std::string::npos) continue;
    try {
      out[line.substr(0, space)] = std::stod(line.substr(space + 1));
    } catch (const std::exception&) {
      // A value we cannot read (NaN spelled oddly): the line is skipped, not fatal.
    }
  }
  return out;
}

std::string render_top(const samples& now, const samples* before, double seconds, const std::string& target) {
  auto rate = [&](const std::string& family, const std::string& with = {}) {
    const double n = sum(now, family, with);
    if (!before || seconds <= 0) return n;
    return (n - sum(*before, family, with)) / seconds;
  };
  const char* per = before ? "/s" : " total";
  std::string out;
  std::string state = "unknown";
  for (const char* s : {"unprovisioned", "provisioned", "draining"}) {
    if (sum(now, "zoneproxy_provisioning_state", str_cat("state=\"", s, "\"")) == 1) state = s;
  }
  const double started = sum(now, "process_start_time_seconds");
  out += fmt::format("zoneproxy top  {}  state {}  up {}\n\n", target, state,
                     human_duration(static_cast<double>(std::time(nullptr)) - started));
  const double live = sum(now, "zoneproxy_sessions_active"), max_sessions = sum(now, "zoneproxy_max_sessions");
  out += fmt::format(
      "SESSIONS   live {:>8.0f} / {:<8.0f} waiting endpoint {:>6.0f}  module_server {:>6.0f}  "
      "admitting {:>6.0f}\n",
      live, max_sessions, sum(now, "zoneproxy_sessions_waiting", "role=\"endpoint\""),
      sum(now, "zoneproxy_sessions_waiting", "role=\"module_server\""), sum(now, "zoneproxy_connections_admitting"));
  out += fmt::format("           paired {:>8.1f}{}  ended {:>8.1f}{}  early data held {}\n",
                     rate("zoneproxy_sessions_paired_total"), per, rate("zoneproxy_sessions_ended_total"), per,
                     human_bytes(sum(now, "zoneproxy_early_data_bytes")));
  out += fmt::format("RELAY      endpoint->module_server {:>12}{}   module_server->endpoint {:>12}{}\n",
                     human_bytes(rate("zoneproxy_relayed_bytes_total", "endpoint_to_module_server")), per,
                     human_bytes(rate("zoneproxy_relayed_bytes_total", "module_server_to_endpoint")), per);
  const double p50 = quantile(now, before, "zoneproxy_pairing_latency_seconds", 0.5);
  const double p99 = quantile(now, before, "zoneproxy_pairing_latency_seconds", 0.99);
  out += fmt::format("PAIRING    p50 {:>8}  p99 {:>8}   handshake p99 {:>8}\n",
                     std::isnan(p50) ? "-" : fmt::format("{:.2f}ms", p50 * 1000),
                     std::isnan(p99) ? "-" : fmt::format("{:.2f}ms", p99 * 1000), [&] {
                       const double h = quantile(now, before, "zoneproxy_tls_handshake_duration_seconds", 0.99);
                       return std::isnan(h) ? std::string("-") : fmt::format("{:.2f}ms", h * 1000);
                     }());
  // Refusals and failures by reason, largest first, only the non-zero ones.
  auto by_reason = [&](const std::string& family, const char* title) {
    std::vector<std::pair<double, std::string>> rows;
    for (auto it = now.lower_bound(family + "{"); it != now.end() && it->first.rfind(family + "{", 0) == 0; ++it) {
      double v = it->second;
      if (before) {
        auto b = before->find(it->first);
        v = (v - (b == before->end() ? 0 : b->second)) / std::max(seconds, 1e-9);
      }
      if (v <= 0) continue;
      const std::string listener = label(it->first, "listener");
      rows.emplace_back(v, (listener.empty() ? "17488" : listener) + " " + label(it->first, "reason"));
    }
    std::sort(rows.rbegin(), rows.rend());
    out += fmt::format("{:<11}", title);
    if (rows.empty()) out += "none";
    for (std::size_t i = 0; i < rows.size() && i < 4; ++i) {
      out += fmt::format("{}{} {:.1f}{}", i ? "   " : "", rows[i].second, rows[i].first, per);
    }
    out += "\n";
  };
  by_reason("zoneproxy_connections_rejected_total", "REFUSED");
  by_reason("zoneproxy_api_connections_refused_total", "17488");
  by_reason("zoneproxy_tls_handshake_failures_total", "TLS FAILED");
  const double fds = sum(now, "process_open_fds"), max_fds = sum(now, "process_max_fds");
  out += fmt::format("PROCESS    fds {:.0f} / {:.0f} ({:.0f} %, reserve {:.0f})   rss {}   cpu {:.0f} %\n", fds,
                     max_fds, max_fds > 0 ? fds * 100 / max_fds : 0, sum(now, "zoneproxy_fd_reserve"),
                     human_bytes(sum(now, "process_resident_memory_bytes")),
                     before ? rate("process_cpu_seconds_total") * 100 : 0.0);
  double nearest = INFINITY;
  std::string which;
  for (auto it = now.lower_bound("zoneproxy_certificate_expiry_timestamp_seconds{");
       it != now.end() && it->first.rfind("zoneproxy_certificate_expiry_timestamp_seconds{", 0) == 0; ++it) {
    if (it->second < nearest) {
      nearest = it->second;
      which = label(it->first, "use") + " " + label(it->first, "subject");
    }
  }
  out += std::isinf(nearest) ? std::string("CERTS      none provisioned\n")
                             : fmt::format("CERTS      nearest expiry in {} ({})\n",
                                           human_duration(nearest - static_cast<double>(std::time(nullptr))), which);
  return out;
}

int run_top(api_client& client, std::chrono::milliseconds interval, unsigned refreshes) {
  static volatile std::sig_atomic_t stop = 0;
  std::signal(SIGINT, [](int) { stop = 1; });
  const std::string target = str_cat(client.options().host, ":", client.options().port);
  samples before;
  bool have_before = false;
  auto last = std::chrono::steady_clock::now();
  for (unsigned n = 0; !stop && (refreshes == 0 || n < refreshes); ++n) {
    auto r = client.call("GET", "/metrics");
    if (!r.ok() || r->status != 200) {
      std::fprintf(
          stderr, "zoneproxyctl: top: %s\n",
          r.ok() ? str_cat("the proxy answered ", r->status).c_str() : std::string(r.status().message()).c_str());
      return r.ok() ? 1 : 3;  // zoneproxyctl: 1 refused, 3 unreachable
    }
    const auto now_time = std::chrono::steady_clock::now();
    samples now = parse_exposition(r->body);
    const std::string screen = render_top(now, have_before ? &before : nullptr,
                                          std::chrono::duration<double>(now_time - last).count(), target);
    // Home the cursor and clear the screen on a terminal; plain successive screens otherwise.
    if (zp::is_terminal(stdout)) std::fputs("\033[H\033[2J", stdout);
    std::fputs(screen.c_str(), stdout);
    std::fflush(stdout);
    before = std::move(now);
    have_before = true;
    last = now_time;
    if (refreshes != 0 && n + 1 == refreshes) break;
    for (auto slept = std::chrono::milliseconds(0); slept < interval && !stop; slept += std::chrono::milliseconds(50)) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  return 0;
}

}  // namespace zp::ctl
