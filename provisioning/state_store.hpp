#pragma once
// The state directory (PROTOCOL.md 4.1, 4.3). Owner of everything the proxy keeps on
// disk; nothing else writes there.
//
//   state_dir/               0700, owned by the proxy's user
//     identity/              created once, atomically (built as a temp dir, renamed)
//       rsa.key ecdsa.key    0600, identity keys served on 17488 while unprovisioned
//       rsa.crt ecdsa.crt    self-signed certificates for them
//     dataplane/             created atomically on first start
//       rsa.key ecdsa.key    0600, the data-plane keys; CSRs are made for them (4.2)
//     dataplane.pending/     a key rotation under way (README "Rotating keys"): new keys,
//       rsa.key ecdsa.key    created atomically, that replace dataplane/ once
//                            provisioned.json holds certificates for them
//     bootstrap-token        0600, 64 hex chars; exists only while unprovisioned
//     provisioned.json       the provisioned configuration (present = provisioned)
//     trust.json             revocations and trust history (outlives deprovisioning)
//
// A directory that exists but looks wrong (permissions, missing or unreadable files)
// is an error that names the file: the proxy never repairs or overwrites what an
// operator may need to inspect.

#include "common/tls_policy.hpp"
#include "provisioning/provisioned_state.hpp"
#include "provisioning/trust.hpp"

#include <absl/status/statusor.h>

#include <filesystem>
#include <string>

namespace zp::provisioning {

/// The identity 17488 serves before provisioning.
struct identity {
  tls_identity rsa;
  tls_identity ecdsa;
  std::string rsa_spki_sha256;
  std::string ecdsa_spki_sha256;
};

class state_store {
 public:
  /// Opens `dir`, creating it (0700) if absent; refuses a directory that others can
  /// read or write, or that is owned by another user.
  static absl::StatusOr<state_store> open(const std::filesystem::path& dir);

  /// Loads identity/, creating it on first start.
  absl::StatusOr<identity> load_or_create_identity() const;
  /// The bootstrap token, created (256 random bits, hex) if the file is absent.
  absl::StatusOr<std::string> load_or_create_bootstrap_token() const;

  /// The data-plane keys, generated on first use and then reused until rotated.
  struct data_plane_keys {
    evp_pkey_ptr rsa;
    evp_pkey_ptr ecdsa;
  };
  /// Also finishes a rotation that a crash interrupted after its commit (provisioned.json
  /// already holds certificates for the pending keys).
  absl::StatusOr<data_plane_keys> load_or_create_data_plane_keys() const;

  // Key rotation. Its commit point is provisioned.json: certificates for the pending keys
  // written there make them the keys in force, and a restart finishes the promotion.
  /// The pending keys, or nullopt when no rotation is under way.
  absl::StatusOr<std::optional<data_plane_keys>> load_pending_data_plane_keys() const;
  /// New pending keys, replacing any pending ones.
  absl::StatusOr<data_plane_keys> create_pending_data_plane_keys() const;
  /// dataplane.pending/ becomes dataplane/; the old keys are deleted. Only after the commit.
  absl::Status promote_pending_data_plane_keys() const;
  /// A fresh bootstrap token, replacing any old one (deprovisioning).
  absl::StatusOr<std::string> new_bootstrap_token() const;
  /// Deletes the bootstrap token durably (it dies with provisioning).
  absl::Status remove_bootstrap_token() const;

  /// provisioned.json, or nullopt when unprovisioned; a damaged file is an error
  /// naming it, never a silent fall-back to unprovisioned.
  absl::StatusOr<std::optional<provisioned_state>> load_provisioned() const;
  absl::Status save_provisioned(const provisioned_state& state) const;
  absl::Status remove_provisioned() const;
  /// trust.json (empty when absent).
  absl::StatusOr<trust_state> load_trust() const;
  absl::Status save_trust(const trust_state& trust) const;

  const std::filesystem::path& dir() const { return dir_; }
  std::filesystem::path provisioned_path() const { return dir_ / "provisioned.json"; }
  std::filesystem::path trust_path() const { return dir_ / "trust.json"; }
  std::filesystem::path token_path() const { return dir_ / "bootstrap-token"; }
  std::filesystem::path identity_dir() const { return dir_ / "identity"; }
  std::filesystem::path data_plane_dir() const { return dir_ / "dataplane"; }
  std::filesystem::path pending_keys_dir() const { return dir_ / "dataplane.pending"; }

 private:
  explicit state_store(std::filesystem::path dir) : dir_(std::move(dir)) {}
  absl::Status create_key_dir(const std::filesystem::path& target, bool self_signed) const;

  std::filesystem::path dir_;
};

}  // namespace zp::provisioning
