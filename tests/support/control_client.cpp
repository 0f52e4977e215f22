#include "tests/support/control_client.hpp"

#include "common/fingerprint.hpp"
#include "common/pem.hpp"
#include "common/tls_policy.hpp"
#include "tests/support/data_plane_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

namespace zp::test {

std::uint16_t free_port() {
  // Below the kernel's ephemeral range (32768 and up by default): a port handed out by
  // bind(0) is free now, but any outgoing connection of a test running beside this one
  // may take it as its local port before the daemon binds it.
  static std::mt19937 rng{std::random_device{}()};
  std::uniform_int_distribution<int> pick(20000, 32000);
  for (int attempt = 0; attempt < 200; ++attempt) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    a.sin_port = htons(static_cast<std::uint16_t>(pick(rng)));
    const bool ok = ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    if (ok) return ntohs(a.sin_port);
  }
  throw std::runtime_error("free_port: no free port in 20000..32000");
}

std::optional<http_reply> api_call(std::uint16_t port, SSL_CTX* ctx, const std::string& method, const std::string& path,
                                   const std::string& body, const std::string& token) {
  tls_client c(port, ctx);
  if (!c.handshake()) return std::nullopt;
  std::string headers = token.empty() ? std::string() : "Authorization: Bearer " + token + "\r\n";
  return c.request(method, path, body, headers);
}

ssl_ctx_ptr anonymous_ctx() { return std::move(*make_client_ctx(nullptr, {})); }

ssl_ctx_ptr module_server_ctx(const std::string& name) {
  auto id = make_tls_identity(pki_file(name + ".key"), pki_file(name + ".crt"));
  return std::move(*make_client_ctx(&*id, {}));
}

std::string pki_cert_sha256(const std::string& name) {
  auto certs = parse_certificates_pem(pki_file(name + ".crt"));
  return cert_sha256_hex(certs->front().get());
}

run_result ctl(std::uint16_t port, std::vector<std::string> args, bool with_cert) {
  std::vector<std::string> argv = {(bin_dir() / "zoneproxyctl").string(), "--proxy",
                                   "127.0.0.1:" + std::to_string(port)};
  if (with_cert) {
    // After provisioning: the Module Server's certificate, and the zone CA that signed
    // the proxy's (its name, 127.0.0.1, is checked too).
    argv.insert(argv.end(), {"--cert", (test_pki() / "ms-client.crt").string(), "--key",
                             (test_pki() / "ms-client.key").string(), "--ca", (test_pki() / "zone-ca.crt").string()});
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return run(argv, std::chrono::seconds(60));
}

std::string identity_pin(const std::filesystem::path& state_dir) {
  std::ifstream in(state_dir / "identity" / "ecdsa.crt");
  std::stringstream pem;
  pem << in.rdbuf();
  auto certs = parse_certificates_pem(pem.str());
  return certs.ok() && !certs->empty() ? spki_sha256_hex(certs->front().get()) : std::string();
}

std::optional<std::pair<std::uint16_t, std::uint16_t>> provision(daemon& d, std::vector<std::string> extra) {
  return provision(d.provisioning_port(), d.state_dir(), std::move(extra));
}

std::optional<std::pair<std::uint16_t, std::uint16_t>> provision(std::uint16_t api_port,
                                                                 const std::filesystem::path& state_dir,
                                                                 std::vector<std::string> extra) {
  const std::uint16_t ep = free_port(), ms = free_port();
  std::vector<std::string> args = {"--pin",
                                   identity_pin(state_dir),
                                   "--token-file",
                                   (state_dir / "bootstrap-token").string(),
                                   "provision",
                                   "--zone-ca-cert",
                                   (test_pki() / "zone-ca.crt").string(),
                                   "--zone-ca-key",
                                   (test_pki() / "zone-ca.key").string(),
                                   "--endpoint-port",
                                   std::to_string(ep),
                                   "--module-server-port",
                                   std::to_string(ms),
                                   "--ip",
                                   "127.0.0.1"};
  if (std::find(extra.begin(), extra.end(), "--module-server-ca") == extra.end()) {
    args.insert(args.end(), {"--module-server-ca", (test_pki() / "ms-ca.crt").string()});
  }
  args.insert(args.end(), extra.begin(), extra.end());
  auto r = ctl(api_port, args, /*with_cert=*/false);
  if (r.status != 0) {
    std::fprintf(stderr, "zoneproxyctl provision failed (%d): %s\n", r.status, r.output.c_str());
    return std::nullopt;
  }
  return std::make_pair(ep, ms);
}

double metric_sample(const std::string& exposition, const std::string& sample) {
  std::istringstream lines(exposition);
  for (std::string line; std::getline(lines, line);) {
    if (line.compare(0, sample.size(), sample) == 0 && line.size() > sample.size() && line[sample.size()] == ' ') {
      return std::stod(line.substr(sample.size() + 1));
    }
  }
  return -1;
}

}  // namespace zp::test
