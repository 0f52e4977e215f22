#include "provisioning/ctl/top.hpp"

#include "common/strings.hpp"
#include "common/terminal.hpp"
#include "provisioning/ctl/human.hpp"
#include "provisioning/metrics.hpp"
#include "provisioning/process_metrics.hpp"
#include "proxy/session_settings.hpp"
#include "proxy/stats.hpp"

#include <fmt/format.h>

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

// A metric's name from its table (proxy/stats.hpp, provisioning/metrics.hpp): top spells
// no name itself.
template <typename Id>
std::string name_of(Id id) {
  return std::string(metric_name(id));
}
std::string process_metric(std::string_view object, std::string_view key) {
  for (const provisioning::process_stat_def& d : provisioning::k_process_stats) {
    if (d.object == object && d.key == key) return std::string(d.name);
  }
  return {};
}
// `name="value"`, as a sample key holds a label.
std::string with_label(std::string_view name, std::string_view value) { return str_cat(name, "=\"", value, "\""); }

// The value of label `name` in a sample key.
std::string label(const std::string& key, const std::string& name) {
  const auto at = key.find(name + "=\"");
  if (at == std::string::npos) return {};
  const auto start = at + name.size() + 2;
  return key.substr(start, key.find('"', start) - start);
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
  for (const auto& [id, name] : provisioning::k_provisioning_states) {
    if (sum(now, name_of(provisioning::control_metric::provisioning_state), with_label("state", name)) == 1) {
      state = name;
    }
  }
  const double started = sum(now, process_metric("process", "start_time_seconds"));
  out += fmt::format("zoneproxy top  {}  state {}  up {}\n\n", target, state,
                     human_duration(static_cast<double>(std::time(nullptr)) - started));
  const double live = sum(now, name_of(proxy::gauge::sessions_active));
  const double max_sessions = sum(now, std::string(proxy::def_of(proxy::setting::max_sessions).limit_gauge));
  const std::string waiting = name_of(proxy::gauge::sessions_waiting),
                    role = std::string(proxy::label_of(proxy::dim::role));
  out += fmt::format(
      "SESSIONS   live {:>8.0f} / {:<8.0f} waiting endpoint {:>6.0f}  module_server {:>6.0f}  "
      "admitting {:>6.0f}\n",
      live, max_sessions, sum(now, waiting, with_label(role, proxy::role_name(proxy::role::endpoint))),
      sum(now, waiting, with_label(role, proxy::role_name(proxy::role::module_server))),
      sum(now, name_of(proxy::gauge::admitting)));
  out += fmt::format("           paired {:>8.1f}{}  ended {:>8.1f}{}  early data held {}\n",
                     rate(name_of(proxy::counter::sessions_paired)), per, rate(name_of(proxy::counter::sessions_ended)),
                     per, human_bytes(sum(now, name_of(proxy::gauge::early_data_bytes))));
  auto relayed = [&](proxy::counter direction) {
    const proxy::counter_def& d = row_of(proxy::k_counters, direction);
    return human_bytes(rate(std::string(d.name), with_label(d.fixed_label.first, d.fixed_label.second)));
  };
  out += fmt::format("RELAY      endpoint->module_server {:>12}{}   module_server->endpoint {:>12}{}\n",
                     relayed(proxy::counter::bytes_endpoint_to_module_server), per,
                     relayed(proxy::counter::bytes_module_server_to_endpoint), per);
  const std::string pairing = name_of(proxy::histogram_id::pairing_latency);
  const double p50 = quantile(now, before, pairing, 0.5);
  const double p99 = quantile(now, before, pairing, 0.99);
  out += fmt::format("PAIRING    p50 {:>8}  p99 {:>8}   handshake p99 {:>8}\n",
                     std::isnan(p50) ? "-" : fmt::format("{:.2f}ms", p50 * 1000),
                     std::isnan(p99) ? "-" : fmt::format("{:.2f}ms", p99 * 1000), [&] {
                       const double h = quantile(now, before, name_of(proxy::histogram_id::handshake_duration), 0.99);
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
  by_reason(name_of(proxy::counter::rejected), "REFUSED");
  by_reason(name_of(provisioning::control_metric::api_connections_refused), "17488");
  by_reason(name_of(proxy::counter::handshake_failures), "TLS FAILED");
  const double fds = sum(now, process_metric("fds", "open")), max_fds = sum(now, process_metric("fds", "limit"));
  out +=
      fmt::format("PROCESS    fds {:.0f} / {:.0f} ({:.0f} %, reserve {:.0f})   rss {}   cpu {:.0f} %\n", fds, max_fds,
                  max_fds > 0 ? fds * 100 / max_fds : 0, sum(now, name_of(provisioning::control_metric::fd_reserve)),
                  human_bytes(sum(now, process_metric("memory", "rss_bytes"))),
                  before ? rate(process_metric("process", "cpu_seconds")) * 100 : 0.0);
  double nearest = INFINITY;
  std::string which;
  const std::string expiry = name_of(provisioning::control_metric::certificate_expiry) + "{";
  for (auto it = now.lower_bound(expiry); it != now.end() && it->first.rfind(expiry, 0) == 0; ++it) {
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
