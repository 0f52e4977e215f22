// The data-plane keys' side of the control plane: CSRs for them (POST /v1/csr), new
// certificates for them (PUT /v1/certificates), and their rotation (POST
// /v1/keys/rotate, README "Rotating keys"), whose commit is a PUT /v1/certificates with
// certificates for the pending keys.

#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "common/strings.hpp"
#include "provisioning/control_plane.hpp"
#include "provisioning/key_factory.hpp"

namespace zp::provisioning {

using json = nlohmann::json;

namespace {

// PEM CSRs for both keys, as POST /v1/csr answers them.
api_result<json> csrs_for(const state_store::data_plane_keys& keys, const csr_request& req) {
  json out;
  for (auto [key, name] : {std::pair{keys.rsa.get(), "rsa"}, std::pair{keys.ecdsa.get(), "ecdsa"}}) {
    auto csr = make_csr(key, req.common_name, req.dns_names, req.ip_addresses);
    if (!csr.ok()) return api_error{400, "bad_request", message_of(csr.status())};
    out[name] = csr_to_pem(csr->get());
  }
  return out;
}

json pins_of(const state_store::data_plane_keys& keys) {
  return {{"rsa", spki_sha256_hex(keys.rsa.get())}, {"ecdsa", spki_sha256_hex(keys.ecdsa.get())}};
}

std::string pins_text(std::string_view prefix, const json& pins) {
  return str_cat(prefix, "rsa_spki_sha256=", pins["rsa"].get<std::string>(), " ", prefix,
                 "ecdsa_spki_sha256=", pins["ecdsa"].get<std::string>());
}

}  // namespace

json control_plane::pins() const { return pins_of(keys_); }

json control_plane::pending_pins() const { return pending_keys_ ? pins_of(*pending_keys_) : json(); }

api_result<json> control_plane::csr(const csr_request& req) const { return csrs_for(keys_, req); }

api_result<json> control_plane::rotate_keys(const json& body, const audit_actor& who) {
  json names = body;
  bool regenerate = false;
  if (auto it = names.find("regenerate"); it != names.end()) {
    if (!it->is_boolean()) return api_error{400, "bad_request", "regenerate: must be true or false"};
    regenerate = it->get<bool>();
    names.erase(it);
  }
  auto req = parse_csr(names);
  if (auto* e = std::get_if<field_error>(&req)) return bad_request(*e);
  const bool fresh = !pending_keys_ || regenerate;
  if (fresh) {
    // Key generation (RSA-2048 takes up to a second) runs here, on the control thread:
    // only an operator's certificate gets this far.
    auto keys = store_.create_pending_data_plane_keys();
    if (!keys.ok()) return write_failed(keys.status(), "pending keys");
    pending_keys_ = std::move(*keys);
  }
  auto csrs = csrs_for(*pending_keys_, std::get<csr_request>(req));
  if (auto* e = std::get_if<api_error>(&csrs)) return *e;
  json out = std::get<json>(std::move(csrs));
  out["pending_pins"] = pins_of(*pending_keys_);
  out["new"] = fresh;
  if (fresh) audit(who, "key_rotation_started", pins_text("pending_", out["pending_pins"]));
  return out;
}

api_result<json> control_plane::rotate(const json& body, const audit_actor& who) {
  auto parsed = parse_certificates(body, "certificates", validation());
  // Certificates for the pending keys (every one given) commit a key rotation.
  bool keys_rotate = false;
  if (std::holds_alternative<field_error>(parsed) && pending_keys_) {
    auto for_pending = parse_certificates(body, "certificates", validation(*pending_keys_));
    if (std::holds_alternative<certificate_set>(for_pending)) {
      parsed = std::move(for_pending);
      keys_rotate = true;
    } else {
      auto& e = std::get<field_error>(parsed);
      e.message +=
          " (nor the pending key of the key rotation: give certificates all for the keys in force, or all "
          "for the pending ones)";
    }
  }
  if (auto* e = std::get_if<field_error>(&parsed)) return bad_request(*e);
  const state_store::data_plane_keys& keys = keys_rotate ? *pending_keys_ : keys_;
  provisioned_state next = *provisioned_;
  next.config.certificates = std::get<certificate_set>(std::move(parsed));
  auto contexts = build(next.config, trust_epoch_, keys);
  if (!contexts.ok()) return api_error{400, "bad_request", message_of(contexts.status())};
  if (auto st = store_.save_provisioned(next); !st.ok()) return write_failed(st, "certificates");
  // The commit point: provisioned.json names certificates for the new keys, and a restart
  // finishes what follows (state_store::load_or_create_data_plane_keys).
  provisioned_ = std::move(next);
  if (keys_rotate) {
    if (auto st = store_.promote_pending_data_plane_keys(); !st.ok()) log_write_failed(st, "data_plane_keys");
    const json before = pins();
    keys_ = std::move(*pending_keys_);
    pending_keys_.reset();
    audit(who, "keys_rotated", str_cat(pins_text("", pins()), " ", pins_text("previous_", before)));
  }
  // New handshakes use the new certificates at once; live sessions keep their TLS.
  plane_.update(contexts->data_plane);
  api_ctx_.store(contexts->api);
  operator_cas_ = contexts->operator_cas;
  std::string leaves;
  const json certificates = certificates_view(config());
  for (const auto& [type, chain] : certificates.items()) {
    if (!chain.empty()) str_append(leaves, leaves.empty() ? "" : " ", type, "_sha256=", chain[0].value("sha256", ""));
  }
  audit(who, "certificates_rotated", leaves);
  return json{{"certificates", certificates}, {"pins", pins()}, {"keys_rotated", keys_rotate}};
}

}  // namespace zp::provisioning
