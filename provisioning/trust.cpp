#include "provisioning/trust.hpp"

#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "common/strings.hpp"
#include "provisioning/provision_request.hpp"
#include "provisioning/state_file_fields.hpp"
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
  if (auto st = check_format_1(j); !st.ok()) return st;
  trust_state out;
  if (!j.contains("revoked") || !j["revoked"].is_array()) return invalid_field("revoked", "missing");
  for (const auto& fp : j["revoked"]) {
    if (!fp.is_string() || fp.get<std::string>().size() != 64) return invalid_field("revoked", "bad fingerprint");
    out.revoked.push_back(fp.get<std::string>());
  }
  if (!j.contains("history") || !j["history"].is_array()) return invalid_field("history", "missing");
  for (std::size_t i = 0; i < j["history"].size(); ++i) {
    const json& e = j["history"][i];
    const std::string at = str_cat("history[", i, "]");
    if (!e.is_object()) return invalid_field(at, "not an object");
    auto time = integer_field(e, "time", 0);
    auto action = string_field(e, "action", "");
    auto fingerprint = string_field(e, "fingerprint", "");
    auto subject = string_field(e, "subject", "");
    for (const absl::Status& st : {time.status(), action.status(), fingerprint.status(), subject.status()}) {
      if (!st.ok()) return absl::InvalidArgumentError(str_cat(at, ".", st.message()));
    }
    out.history.push_back({static_cast<std::time_t>(*time), *action, *fingerprint, *subject});
  }
  return out;
}

bool revocation_set::contains(const std::string& fingerprint) const { return set_.load()->contains(fingerprint); }

void revocation_set::replace(absl::flat_hash_set<std::string> fingerprints) {
  set_.store(std::make_shared<const absl::flat_hash_set<std::string>>(std::move(fingerprints)));
}

trust_state trust_registry::with_trusted_cas(const std::string& ca_pem, std::time_t when) const {
  trust_state next = state_;
  auto cas = parse_certificates_pem(ca_pem);
  if (!cas.ok()) return next;
  for (auto& ca : *cas) {
    const std::string fp = cert_sha256_hex(ca.get());
    const bool recorded = std::any_of(state_.history.begin(), state_.history.end(), [&](const trust_event& e) {
      return e.action == "trusted" && e.fingerprint == fp && e.time >= when;
    });
    if (!recorded) next.history.push_back({when, "trusted", fp, subject_of(ca.get())});
  }
  return next;
}

void record_ca_change(trust_state& state, const std::optional<std::string>& before,
                      const std::optional<std::string>& after, std::time_t when) {
  auto fingerprints = [](const std::optional<std::string>& pem) {
    std::vector<std::pair<std::string, std::string>> out;  // SHA-256, subject
    if (!pem) return out;
    if (auto certs = parse_certificates_pem(*pem); certs.ok()) {
      for (auto& c : *certs) out.emplace_back(cert_sha256_hex(c.get()), subject_of(c.get()));
    }
    return out;
  };
  const auto old_cas = fingerprints(before), new_cas = fingerprints(after);
  for (const auto& ca : new_cas) {
    if (std::find(old_cas.begin(), old_cas.end(), ca) == old_cas.end()) {
      state.history.push_back({when, "trusted", ca.first, ca.second});
    }
  }
  for (const auto& ca : old_cas) {
    if (std::find(new_cas.begin(), new_cas.end(), ca) == new_cas.end()) {
      state.history.push_back({when, "untrusted", ca.first, ca.second});
    }
  }
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
