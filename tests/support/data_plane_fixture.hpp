#pragma once
// An in-process data plane on loopback (port 0), configured the way a provision
// configures it: the proxy's RSA and ECDSA certificates, the test PKI's Module Server
// CA on 17487, optionally its endpoint CA on 17486, and a revocation set.

#include "common/openssl_ptr.hpp"
#include "common/tls_policy.hpp"
#include "provisioning/key_factory.hpp"
#include "proxy/data_plane.hpp"
#include "proxy/worker.hpp"

#include <memory>
#include <mutex>
#include <set>
#include <string>

namespace zp::test {

/// A fresh key of type `t` and a one-day self-signed certificate for it.
tls_identity self_signed(provisioning::key_type t);

struct data_plane_options {
  proxy::session_settings settings;
  bool require_endpoint_cert = false;
  unsigned workers = 2;
  std::chrono::seconds drain_timeout{30};
  /// Faults for each accepted connection's stream (common/io_faults.hpp); none if empty.
  std::function<std::unique_ptr<io_faults>(proxy::role)> faults;
};

class data_plane_fixture {
 public:
  explicit data_plane_fixture(data_plane_options options = {});
  ~data_plane_fixture();

  std::uint16_t endpoint_port() const { return ports_.first; }
  std::uint16_t module_server_port() const { return ports_.second; }
  /// Client contexts: an endpoint without a certificate, an endpoint with the test
  /// PKI's endpoint client certificate, the Module Server with its client certificate.
  SSL_CTX* endpoint_ctx() const { return endpoint_ctx_.get(); }
  SSL_CTX* endpoint_cert_ctx() const { return endpoint_cert_ctx_.get(); }
  SSL_CTX* module_server_ctx() const { return module_server_ctx_.get(); }
  /// SHA-256 of the Module Server client certificate (what revocation names).
  const std::string& module_server_cert_sha256() const { return ms_cert_sha256_; }
  void revoke(const std::string& cert_sha256);

  proxy::data_plane& plane() { return *plane_; }
  proxy::worker_pool& workers() { return workers_; }
  /// A counter summed over all workers (proxy/stats.hpp).
  std::uint64_t total(proxy::counter c, std::size_t outer = 0, std::size_t inner = 0) const {
    return plane_->stats().total(c, outer, inner);
  }
  /// Polls `cond` until true or the deadline.
  static bool eventually(const std::function<bool()>& cond,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  proxy::worker_pool workers_;
  std::unique_ptr<proxy::data_plane> plane_;
  std::pair<std::uint16_t, std::uint16_t> ports_;
  ssl_ctx_ptr endpoint_ctx_, endpoint_cert_ctx_, module_server_ctx_;
  std::string ms_cert_sha256_;
  std::shared_ptr<std::mutex> revoked_mu_ = std::make_shared<std::mutex>();
  std::shared_ptr<std::set<std::string>> revoked_ = std::make_shared<std::set<std::string>>();
};

/// Reads a file of the test PKI.
std::string pki_file(const std::string& name);

}  // namespace zp::test
