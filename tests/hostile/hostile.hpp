#pragma once
// What the hostile tier shares: a provisioned daemon (a real process) and the ways an
// attacker and the operator reach it.

#include "tests/support/control_client.hpp"
#include "tests/support/data_plane_fixture.hpp"
#include "tests/support/rendezvous.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

namespace zp::test {

/// A provisioned daemon; `settings` are zoneproxyctl --set assignments.
class provisioned_daemon {
 public:
  /// `daemon_args` go on the daemon's command line (e.g. {"--config", file}).
  explicit provisioned_daemon(std::vector<std::string> settings = {}, std::vector<std::string> launcher = {},
                              std::vector<std::string> env = {}, std::filesystem::path state_dir = {},
                              std::vector<std::string> daemon_args = {});
  bool ok() const { return ports_.has_value(); }
  daemon& d() { return *d_; }
  std::uint16_t api_port() const { return d_->provisioning_port(); }
  std::uint16_t endpoint_port() const { return ports_->first; }
  std::uint16_t module_server_port() const { return ports_->second; }
  SSL_CTX* operator_ctx() const { return ms_.get(); }
  SSL_CTX* endpoint_ctx() const { return ep_.get(); }

  /// A request with the operator's certificate on a new connection; nullopt if refused.
  std::optional<http_reply> call(const std::string& method, const std::string& path, const std::string& body = {});
  /// A JSON body, or null.
  nlohmann::json json_of(const std::string& method, const std::string& path, const std::string& body = {});
  /// One sample of /metrics, e.g. `zoneproxy_connections_rejected_total{listener="endpoint",reason="x"}`; -1 if absent.
  double metric(const std::string& sample);

 private:
  std::unique_ptr<daemon> d_;
  std::optional<std::pair<std::uint16_t, std::uint16_t>> ports_;
  ssl_ctx_ptr ms_, ep_;
};

/// Owns a raw socket; move-only, so a vector of them closes each exactly once.
class unique_fd {
 public:
  explicit unique_fd(int fd) : fd_(fd) {}
  unique_fd(unique_fd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  unique_fd& operator=(unique_fd&& other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  unique_fd(const unique_fd&) = delete;
  unique_fd& operator=(const unique_fd&) = delete;
  ~unique_fd();
  int get() const { return fd_; }

 private:
  int fd_;
};

/// 127.0.0.<n>, as a distinct source host (n in 1..254).
std::string host(int n);

}  // namespace zp::test
