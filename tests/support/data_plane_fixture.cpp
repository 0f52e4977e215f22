#include "tests/support/data_plane_fixture.hpp"

#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "common/socket_handle.hpp"
#include "provisioning/key_factory.hpp"
#include "tests/support/daemon.hpp"

#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace zp::test {

std::string pki_file(const std::string& name) {
  std::ifstream in(test_pki() / name);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

tls_identity self_signed(provisioning::key_type t) {
  auto key = provisioning::generate_key(t);
  auto cert = provisioning::make_self_signed(key->get(), "zoneproxy test data plane", std::chrono::hours(24));
  tls_identity id;
  id.key = std::move(*key);
  id.chain.push_back(std::move(*cert));
  return id;
}

namespace {

template <typename T>
T must(absl::StatusOr<T> v, const char* what) {
  if (!v.ok()) throw std::runtime_error(std::string(what) + ": " + std::string(v.status().message()));
  return std::move(*v);
}

}  // namespace

data_plane_fixture::data_plane_fixture(data_plane_options options) : workers_(options.workers) {
  // As the daemon does: OpenSSL writes with write(), and a peer gone must not kill the
  // process (zoneproxy-idle-memory's data plane died of SIGPIPE at 9,896 sessions).
  ignore_broken_pipe_signals();
  workers_.start();
  tls_identity rsa = self_signed(provisioning::key_type::rsa);
  tls_identity ecdsa = self_signed(provisioning::key_type::ecdsa);
  auto ms_ca = must(parse_certificates_pem(pki_file("ms-ca.crt")), "ms-ca");
  auto ep_ca = must(parse_certificates_pem(pki_file("endpoint-ca.crt")), "endpoint-ca");

  server_tls_options ep;
  ep.identities = {&rsa, &ecdsa};
  if (options.require_endpoint_cert) ep.client_cas = {ep_ca.front().get()};
  server_tls_options ms;
  ms.identities = {&rsa, &ecdsa};
  ms.client_cas = {ms_ca.front().get()};
  ms.client_check = [mu = revoked_mu_, set = revoked_](X509* leaf) {
    std::lock_guard lock(*mu);
    return set->count(cert_sha256_hex(leaf)) == 0;
  };
  auto config = std::make_shared<proxy::data_plane_config>();
  config->endpoint_bind = "127.0.0.1";
  config->module_server_bind = "127.0.0.1";
  config->endpoint_port = 0;
  config->module_server_port = 0;
  config->settings = options.settings;
  config->drain_timeout = options.drain_timeout;
  config->is_revoked = [mu = revoked_mu_, set = revoked_](const std::string& fingerprint) {
    std::lock_guard lock(*mu);
    return set->count(fingerprint) != 0;
  };
  config->endpoint_ctx = std::shared_ptr<SSL_CTX>(must(make_server_ctx(ep), "endpoint ctx").release(), SSL_CTX_free);
  config->module_server_ctx =
      std::shared_ptr<SSL_CTX>(must(make_server_ctx(ms), "module server ctx").release(), SSL_CTX_free);

  plane_ = std::make_unique<proxy::data_plane>(workers_);
  if (options.faults) plane_->inject_faults(std::move(options.faults));
  if (auto st = plane_->start(config); !st.ok()) throw std::runtime_error(std::string(st.message()));
  ports_ = plane_->ports();

  endpoint_ctx_ = must(make_client_ctx(nullptr, {}), "endpoint client ctx");
  auto ep_id = must(make_tls_identity(pki_file("endpoint-client.key"), pki_file("endpoint-client.crt")), "ep id");
  endpoint_cert_ctx_ = must(make_client_ctx(&ep_id, {}), "endpoint cert ctx");
  auto ms_id = must(make_tls_identity(pki_file("ms-client.key"), pki_file("ms-client.crt")), "ms id");
  ms_cert_sha256_ = cert_sha256_hex(ms_id.chain.front().get());
  module_server_ctx_ = must(make_client_ctx(&ms_id, {}), "module server client ctx");
}

data_plane_fixture::~data_plane_fixture() {
  plane_->stop();
  plane_.reset();
  workers_.stop();
  workers_.join();
}

void data_plane_fixture::revoke(const std::string& cert_sha256) {
  std::lock_guard lock(*revoked_mu_);
  revoked_->insert(cert_sha256);
}

bool data_plane_fixture::eventually(const std::function<bool()>& cond, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (cond()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return cond();
}

}  // namespace zp::test
