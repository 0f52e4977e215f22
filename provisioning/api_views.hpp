#pragma once
// The JSON bodies of the read-only routes of PROTOCOL.md 4.2 (identity, status,
// diagnostics, sessions, trust), built from values the control plane gathers. Pure: no
// state of their own, so each view is a function of its inputs.

#include "provisioning/provision_request.hpp"
#include "provisioning/state_store.hpp"
#include "provisioning/tls_contexts.hpp"
#include "provisioning/trust.hpp"
#include "proxy/reports.hpp"
#include "proxy/stats.hpp"

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <string_view>
#include <utility>
#include <vector>

namespace zp::provisioning {

/// What the views need to know about the proxy as a whole.
struct proxy_facts {
  std::string_view state;  // unprovisioned | provisioned | draining
  const local_settings* local = nullptr;
  std::uint16_t provisioning_port = 0;
  const provision_request* config = nullptr;  // null while unprovisioned
  std::pair<std::uint16_t, std::uint16_t> data_ports{};
  std::chrono::seconds uptime{};
};

nlohmann::json identity_view(std::string_view state, const identity& id);
/// The provisioned certificates (subject, fingerprints, expiry), by key type.
nlohmann::json certificates_view(const provision_request* config);
nlohmann::json status_view(const proxy_facts& facts, const proxy::plane_stats& stats);
nlohmann::json diagnostics_view(const proxy_facts& facts, const proxy::plane_stats& stats,
                                const std::vector<proxy::error_record>& errors);
nlohmann::json sessions_view(const std::vector<proxy::session_info>& sessions);
nlohmann::json trust_view(const trust_state& trust, const provision_request* config);

}  // namespace zp::provisioning
