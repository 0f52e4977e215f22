#include "provisioning/state_store.hpp"

#include "common/atomic_file.hpp"
#include "common/fingerprint.hpp"
#include "common/log.hpp"
#include "common/pem.hpp"
#include "common/private_files.hpp"
#include "common/strings.hpp"
#include "provisioning/key_factory.hpp"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <cctype>

namespace zp::provisioning {
namespace {

namespace fs = std::filesystem;

constexpr auto k_identity_lifetime = std::chrono::hours(24 * 365 * 10);

absl::StatusOr<tls_identity> load_identity_pair(const fs::path& dir, key_type t) {
  const fs::path key_file = dir / str_cat(key_type_name(t), ".key");
  const fs::path cert_file = dir / str_cat(key_type_name(t), ".crt");
  if (auto st = check_private_file(key_file); !st.ok()) return st;
  auto key_pem = read_file(key_file);
  if (!key_pem.ok()) return key_pem.status();
  auto cert_pem = read_file(cert_file);
  if (!cert_pem.ok()) return cert_pem.status();
  auto key = parse_private_key_pem(*key_pem);
  if (!key.ok()) return absl::FailedPreconditionError(str_cat(key_file.string(), ": ", key.status().message()));
  auto certs = parse_certificates_pem(*cert_pem);
  if (!certs.ok()) return absl::FailedPreconditionError(str_cat(cert_file.string(), ": ", certs.status().message()));
  auto kind = classify_key(key->get());
  if (!kind.ok() || *kind != t) {
    return absl::FailedPreconditionError(
        str_cat(key_file.string(), ": not a ", key_type_name(t), " key of the expected size"));
  }
  if (X509_check_private_key(certs->front().get(), key->get()) != 1) {
    return absl::FailedPreconditionError(str_cat(cert_file.string(), ": does not match ", key_file.string()));
  }
  return tls_identity{std::move(*key), std::move(*certs)};
}

}  // namespace

absl::StatusOr<state_store> state_store::open(const fs::path& dir) {
  if (dir.empty()) return absl::InvalidArgumentError("state_dir: empty path");
  fs::path abs = fs::absolute(dir);
  if (auto status = ensure_private_directory(abs); !status.ok()) return status;
  // Temporaries of an atomic write or key-directory creation that a crash interrupted:
  // only this process writes here, so any left now is garbage, and some hold private keys.
  std::error_code ec;
  for (auto it = fs::directory_iterator(abs, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.size() > 1 && name[0] == '.' && name.find(".tmp-") != std::string::npos) {
      std::error_code removed;
      fs::remove_all(it->path(), removed);
      spdlog::info("event=leftover_temporary_removed path={}", log::q(it->path().string()));
    }
  }
  return state_store(abs);
}

absl::StatusOr<identity> state_store::load_or_create_identity() const {
  const fs::path dir = identity_dir();
  std::error_code ec;
  if (!fs::exists(dir, ec)) {
    if (auto st = create_key_dir(dir, /*self_signed=*/true); !st.ok()) return st;
  }
  auto rsa = load_identity_pair(dir, key_type::rsa);
  if (!rsa.ok()) return rsa.status();
  auto ecdsa = load_identity_pair(dir, key_type::ecdsa);
  if (!ecdsa.ok()) return ecdsa.status();
  identity id{std::move(*rsa), std::move(*ecdsa), {}, {}};
  id.rsa_spki_sha256 = spki_sha256_hex(id.rsa.chain.front().get());
  id.ecdsa_spki_sha256 = spki_sha256_hex(id.ecdsa.chain.front().get());
  return id;
}

namespace {

absl::StatusOr<state_store::data_plane_keys> load_key_dir(const fs::path& dir) {
  state_store::data_plane_keys keys;
  for (key_type t : {key_type::rsa, key_type::ecdsa}) {
    const fs::path file = dir / str_cat(key_type_name(t), ".key");
    if (auto st = check_private_file(file); !st.ok()) return st;
    auto pem = read_file(file);
    if (!pem.ok()) return pem.status();
    auto key = parse_private_key_pem(*pem);
    auto kind = key.ok() ? classify_key(key->get()) : absl::StatusOr<key_type>(key.status());
    if (!kind.ok() || *kind != t) {
      return absl::FailedPreconditionError(str_cat(file.string(), ": not a usable ", key_type_name(t), " key"));
    }
    (t == key_type::rsa ? keys.rsa : keys.ecdsa) = std::move(*key);
  }
  return keys;
}

// Whether provisioned.json holds a certificate for one of `keys`: then a rotation to them
// was committed. Fresh random keys match nothing else.
bool certified(const provisioned_state& state, const state_store::data_plane_keys& keys) {
  for (auto [pem, key] : {std::pair{&state.config.certificates.rsa, keys.rsa.get()},
                          std::pair{&state.config.certificates.ecdsa, keys.ecdsa.get()}}) {
    if (*pem && leaf_is_for_key(**pem, key)) return true;
  }
  return false;
}

}  // namespace

absl::StatusOr<state_store::data_plane_keys> state_store::load_or_create_data_plane_keys() const {
  const fs::path dir = data_plane_dir(), pending = pending_keys_dir();
  std::error_code ec;
  if (fs::exists(pending, ec)) {
    // A crash inside promote_pending_data_plane_keys(): dataplane/ is already gone (only
    // a promotion removes it once pending keys exist), or was about to go.
    bool finish = !fs::exists(dir, ec);
    if (!finish) {
      auto keys = load_key_dir(pending);
      if (!keys.ok()) return keys.status();
      auto provisioned = load_provisioned();
      if (!provisioned.ok()) return provisioned.status();
      finish = provisioned->has_value() && certified(**provisioned, *keys);
    }
    if (finish) {
      if (auto st = promote_pending_data_plane_keys(); !st.ok()) return st;
      spdlog::info("event=key_rotation_finished reason=interrupted_by_restart");
    }
  }
  if (!fs::exists(dir, ec)) {
    if (auto st = create_key_dir(dir, /*self_signed=*/false); !st.ok()) return st;
  }
  return load_key_dir(dir);
}

absl::StatusOr<std::optional<state_store::data_plane_keys>> state_store::load_pending_data_plane_keys() const {
  std::error_code ec;
  if (!fs::exists(pending_keys_dir(), ec)) return std::optional<data_plane_keys>();
  auto keys = load_key_dir(pending_keys_dir());
  if (!keys.ok()) return keys.status();
  return std::optional<data_plane_keys>(std::move(*keys));
}

absl::StatusOr<state_store::data_plane_keys> state_store::create_pending_data_plane_keys() const {
  // Old pending keys go under a temporary name first: a crash then leaves no pending keys
  // (a temporary is removed at the next start), never half of a new set.
  const fs::path pending = pending_keys_dir(), discarded = dir_ / ".dataplane.pending.tmp-discarded";
  std::error_code ec;
  if (fs::exists(pending, ec)) {
    fs::remove_all(discarded, ec);
    if (auto st = rename_directory_durably(pending, discarded); !st.ok()) return st;
    fs::remove_all(discarded, ec);
  }
  if (auto st = create_key_dir(pending, /*self_signed=*/false); !st.ok()) return st;
  return load_key_dir(pending);
}

absl::Status state_store::promote_pending_data_plane_keys() const {
  // Two renames, each durable: dataplane/ → a temporary name, dataplane.pending/ →
  // dataplane/. A crash between them leaves no dataplane/ beside dataplane.pending/,
  // which load_or_create_data_plane_keys() finishes; the temporary (the old keys) is
  // removed at the next start if not here.
  const fs::path dir = data_plane_dir(), retired = dir_ / ".dataplane.tmp-retired";
  std::error_code ec;
  fs::remove_all(retired, ec);
  if (fs::exists(dir, ec)) {
    if (auto st = rename_directory_durably(dir, retired); !st.ok()) return st;
  }
  if (auto st = rename_directory_durably(pending_keys_dir(), dir); !st.ok()) return st;
  fs::remove_all(retired, ec);
  if (ec) {
    spdlog::warn("event=old_keys_not_removed path={} error={}", log::q(retired.string()), log::q(ec.message()));
  }
  return absl::OkStatus();
}

absl::Status state_store::create_key_dir(const fs::path& target, bool self_signed) const {
  // Build the whole directory privately, then rename it into place: a crash leaves
  // either none (regenerated next start) or a complete one, never a half that would
  // fail every later start.
  auto made = make_private_temp_directory(dir_, "." + target.filename().string() + ".tmp-");
  if (!made.ok()) return made.status();
  const fs::path tmp = *made;
  auto cleanup = [&] {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
  };
  for (key_type t : {key_type::rsa, key_type::ecdsa}) {
    auto key = generate_key(t);
    if (!key.ok()) return cleanup(), key.status();
    auto st = write_file_atomically(tmp / str_cat(key_type_name(t), ".key"), private_key_to_pem(key->get()), 0600);
    if (st.ok() && self_signed) {
      auto cert =
          make_self_signed(key->get(), str_cat("zoneproxy identity (", key_type_name(t), ")"), k_identity_lifetime);
      if (!cert.ok()) return cleanup(), cert.status();
      st = write_file_atomically(tmp / str_cat(key_type_name(t), ".crt"), certificate_to_pem(cert->get()), 0644);
    }
    if (!st.ok()) return cleanup(), st;
  }
  if (auto st = rename_directory_durably(tmp, target); !st.ok()) {
    cleanup();
    return st;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> state_store::load_or_create_bootstrap_token() const {
  const fs::path file = token_path();
  std::error_code ec;
  if (fs::exists(file, ec)) {
    if (auto st = check_private_file(file); !st.ok()) return st;
    auto text = read_file(file, 4096);
    if (!text.ok()) return text.status();
    std::string token(trim_ascii(*text));
    bool hex = token.size() == 64;
    for (char c : token) hex = hex && std::isxdigit(static_cast<unsigned char>(c)) != 0;
    if (!hex) return absl::FailedPreconditionError(str_cat(file.string(), ": not a 64-hex-character token"));
    return token;
  }
  unsigned char raw[32];
  if (RAND_bytes(raw, sizeof raw) != 1) return absl::InternalError("RAND_bytes failed");
  std::string token = to_hex(raw, sizeof raw);
  if (auto st = write_file_atomically(file, token, 0600); !st.ok()) return st;
  return token;
}

}  // namespace zp::provisioning

namespace zp::provisioning {
namespace {

// Reads a JSON state file; every failure names the file.
absl::StatusOr<std::optional<nlohmann::json>> read_json_file(const fs::path& file) {
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::optional<nlohmann::json>();
  if (auto st = check_private_file(file); !st.ok()) return st;
  auto text = read_file(file, 16 << 20);
  if (!text.ok()) return text.status();
  auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return absl::FailedPreconditionError(str_cat(file.string(), ": not valid JSON (damaged?)"));
  return std::optional<nlohmann::json>(std::move(j));
}

}  // namespace

absl::StatusOr<std::string> state_store::new_bootstrap_token() const {
  if (auto st = remove_bootstrap_token(); !st.ok()) return st;
  return load_or_create_bootstrap_token();
}

absl::Status state_store::remove_bootstrap_token() const { return remove_file_durably(token_path()); }

absl::StatusOr<std::optional<provisioned_state>> state_store::load_provisioned() const {
  auto j = read_json_file(provisioned_path());
  if (!j.ok()) return j.status();
  if (!j->has_value()) return std::optional<provisioned_state>();
  auto state = provisioned_from_json(**j);
  if (!state.ok())
    return absl::FailedPreconditionError(str_cat(provisioned_path().string(), ": ", state.status().message()));
  return std::optional<provisioned_state>(std::move(*state));
}

absl::Status state_store::save_provisioned(const provisioned_state& state) const {
  return write_file_atomically(provisioned_path(), to_json(state).dump(2), 0600);
}

absl::Status state_store::remove_provisioned() const { return remove_file_durably(provisioned_path()); }

absl::StatusOr<trust_state> state_store::load_trust() const {
  auto j = read_json_file(trust_path());
  if (!j.ok()) return j.status();
  if (!j->has_value()) return trust_state{};
  auto trust = trust_from_json(**j);
  if (!trust.ok()) return absl::FailedPreconditionError(str_cat(trust_path().string(), ": ", trust.status().message()));
  return trust;
}

absl::Status state_store::save_trust(const trust_state& trust) const {
  return write_file_atomically(trust_path(), to_json(trust).dump(2), 0600);
}

}  // namespace zp::provisioning
