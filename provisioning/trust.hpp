#pragma once
// Whom the proxy trusts, in one place: the revocations and the trust history that
// trust.json keeps (it outlives deprovisioning, because a revocation is irreversible),
// and the revocation set every handshake on 17487 and 17488 consults. The CA sets
// themselves are part of the provisioned configuration (provision_request).
//
// Owner: the control plane, on the control thread. Changes are staged (with_*()), made
// durable by the caller, then committed; the revocation set is published as an immutable
// snapshot that handshakes on any thread read without locks.

#include <absl/container/flat_hash_set.h>
#include <absl/status/statusor.h>
#include <nlohmann/json_fwd.hpp>

#include <atomic>
#include <ctime>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace zp::provisioning {

struct trust_event {
  std::time_t time = 0;
  std::string action;  // "trusted", "untrusted", "revoked", "deprovisioned"
  std::string fingerprint;
  std::string subject;
};

/// trust.json as data.
struct trust_state {
  std::vector<std::string> revoked;  // SHA-256 of client certificates, lowercase hex
  std::vector<trust_event> history;
  bool is_revoked(const std::string& fingerprint) const;
};

/// Records in `state`'s history the change of a CA set from `before` to `after` (PEM,
/// either may be absent), at `when`: "trusted" for each CA that is new, "untrusted" for
/// each that went.
void record_ca_change(trust_state& state, const std::optional<std::string>& before,
                      const std::optional<std::string>& after, std::time_t when);

nlohmann::json to_json(const trust_state& t);
/// Parses trust.json; errors name the field.
absl::StatusOr<trust_state> trust_from_json(const nlohmann::json& j);

/// Fingerprints (certificate SHA-256) refused on 17487 and 17488; read on any thread.
class revocation_set {
 public:
  bool contains(const std::string& fingerprint) const;
  void replace(absl::flat_hash_set<std::string> fingerprints);

 private:
  std::atomic<std::shared_ptr<const absl::flat_hash_set<std::string>>> set_{
      std::make_shared<const absl::flat_hash_set<std::string>>()};
};

class trust_registry {
 public:
  const trust_state& state() const { return state_; }
  /// The set the TLS contexts' client checks hold on to.
  const std::shared_ptr<revocation_set>& revoked() const { return revoked_; }
  bool is_revoked(const std::string& fingerprint) const { return state_.is_revoked(fingerprint); }

  /// The state with a "trusted" entry, at `when`, for every CA certificate in `ca_pem`
  /// that has none at or after `when`.
  trust_state with_trusted_cas(const std::string& ca_pem, std::time_t when) const;
  /// The state with `fingerprint` revoked (unchanged if it already is).
  trust_state with_revoked(const std::string& fingerprint) const;
  /// The state with one more history entry.
  trust_state with_event(std::string action) const;
  /// Makes `next` current (after it was persisted) and publishes its revocations.
  void commit(trust_state next);

 private:
  trust_state state_;
  std::shared_ptr<revocation_set> revoked_ = std::make_shared<revocation_set>();
};

}  // namespace zp::provisioning
