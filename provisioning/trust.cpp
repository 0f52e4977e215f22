#include "provisioning/trust.hpp"

#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "provisioning/provision_request.hpp"
#include "provisioning/x509_text.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace zp::provisioning {

using json = nlohmann::json;

bool trust_state::is_revoked(const std::string& fingerprint) const {
  return std::find(revoked.begin(), revoked.end(), fingerprint) != revoked.end();
}

json to_json(const trust_state& t) {
  json history = json::array();
  for (const auto& e : t.history) {
    history.push_back({{"time", e.time}, {"action", e.action}, {"fingerprint", e.fingerprint}, {"subject", e.subject}});
  }
  return {{"format", 1}, {"revoked", t.revoked}, {"history", history}};
}

absl::StatusOr<trust_state> trust_from_json(const json& j) {
  if (!j.is_object() || j.value("format", 0) != 1) return invalid_field("format", "unknown or missing format version");
  trust_state out;
  if (!j.contains("revoked") || !j["revoked"].is_array()) return invalid_field("revoked", "missing");
  for (const auto& fp : j["revoked"]) {
    if (!fp.is_string() || fp.get<std::string>().size() != 64) return invalid_field("revoked", "bad fingerprint");
    out.revoked.push_back(fp.get<std::string>());
  }
  if (!j.contains("history") || !j["history"].is_array()) return invalid_field("history", "missing");
  for (const auto& e : j["history"]) {
    if (!e.is_object()) return invalid_field("history", "bad entry");
    out.history.push_back({e.value("time", std::time_t{0}), e.value("action", std::string()),
                           e.value("fingerprint", std::string()), e.value("subject", std::string())});
  }
  return out;
}

bool revocation_set::contains(const std::string& fingerprint) const { return set_.load()->contains(fingerprint); }

void revocation_set::replace(absl::flat_hash_set<std::string> fingerprints) {
  set_.store(std::make_shared<const absl::flat_hash_set<std::string>>(std::move(fingerprints)));
}

trust_state trust_registry::with_trusted_cas(const std::string& ca_pem) const {
  trust_state next = state_;
  auto cas = parse_certificates_pem(ca_pem);
  if (cas.ok()) {
    for (auto& ca : *cas) {
      next.history.push_back({std::time(nullptr), "trusted", cert_sha256_hex(ca.get()), subject_of(ca.get())});
    }
  }
  return next;
}

trust_state trust_registry::with_revoked(const std::string& fingerprint) const {
  trust_state next = state_;
  if (next.is_revoked(fingerprint)) return next;
  next.revoked.push_back(fingerprint);
  next.history.push_back({std::time(nullptr), "revoked", fingerprint, ""});
  return next;
}

trust_state trust_registry::with_event(std::string action) const {
  trust_state next = state_;
  next.history.push_back({std::time(nullptr), std::move(action), "", ""});
  return next;
}

void trust_registry::commit(trust_state next) {
  state_ = std::move(next);
  revoked_->replace(absl::flat_hash_set<std::string>(state_.revoked.begin(), state_.revoked.end()));
}

}  // namespace zp::provisioning
