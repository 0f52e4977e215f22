#include "proxy/session_log.hpp"

#include "common/log.hpp"
#include "common/strings.hpp"

#include <spdlog/spdlog.h>

namespace zp::proxy {
namespace {

// The certificate's fingerprint as the log shows it: enough to tell certificates apart
// and to find the whole one in `zoneproxyctl trust` or the Module Server's records.
constexpr std::size_t k_fingerprint_prefix = 16;

std::string_view side_name(termination::side s) {
  static constexpr std::string_view k_names[] = {"endpoint", "module_server", "proxy"};
  return k_names[static_cast<std::size_t>(s)];
}

std::string_view how_name(termination::how h) {
  static constexpr std::string_view k_names[] = {"close_notify", "fin",     "reset",       "tls_error", "error",
                                                 "idle_timeout", "revoked", "ca_replaced", "killed",    "drain"};
  return k_names[static_cast<std::size_t>(h)];
}

double ms(std::chrono::steady_clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// What both lines say of a session, so that they always say the same.
std::string record_fields(const session_record& r) {
  return fmt::format(
      "session={} worker={} endpoint={} module_server={} ms_subject={} ms_sha256={} waited={} wait_ms={:.3f}",
      r.id.prefix(), r.worker, address_and_port(r.endpoint), address_and_port(r.module_server), log::q(r.ms_subject),
      r.ms_sha256.substr(0, k_fingerprint_prefix), role_name(r.waited), ms(r.wait));
}

}  // namespace

std::optional<session_log_mode> parse_session_log_mode(std::string_view name) {
  if (name == "all") return session_log_mode::all;
  if (name == "ends") return session_log_mode::ends;
  if (name == "off") return session_log_mode::off;
  return std::nullopt;
}

std::string termination_name(const termination& t) { return str_cat(side_name(t.by), "_", how_name(t.what)); }

std::string address_and_port(const asio::ip::tcp::endpoint& e) {
  const asio::ip::address a = e.address();
  return a.is_v6() ? str_cat("[", a.to_string(), "]:", e.port()) : str_cat(a.to_string(), ":", e.port());
}

void log_session_paired(const session_record& r) { spdlog::info("event=session_paired {}", record_fields(r)); }

void log_session_ended(const session_record& r, double duration_s, std::uint64_t bytes_to_module_server,
                       std::uint64_t bytes_to_endpoint, const termination& t, end_reason why) {
  spdlog::info(
      "event=session_ended {} duration_s={:.3f} bytes_to_module_server={} bytes_to_endpoint={} termination={} "
      "reason={}",
      record_fields(r), duration_s, bytes_to_module_server, bytes_to_endpoint, termination_name(t),
      end_reason_name(why));
}

}  // namespace zp::proxy
