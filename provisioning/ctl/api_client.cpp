#include "provisioning/ctl/api_client.hpp"

#include "common/fingerprint.hpp"
#include "common/socket_handle.hpp"
#include "common/strings.hpp"

#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <asio/connect.hpp>
#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>

namespace zp::ctl {
namespace {

// A blocking connection, tried address by address, with the client's timeout on every
// read and write.
absl::Status connect_to(const client_options& o, asio::ip::tcp::socket& socket) {
  asio::ip::tcp::resolver resolver(socket.get_executor());
  std::error_code ec;
  const auto addresses = resolver.resolve(o.host, std::to_string(o.port), ec);
  if (ec) return absl::UnavailableError(str_cat("cannot resolve ", o.host, ": ", ec.message()));
  std::string last = "no address";
  for (const auto& a : addresses) {
    std::error_code ignored;
    socket.close(ignored);
    if (socket.open(a.endpoint().protocol(), ec); ec) {
      last = ec.message();
      continue;
    }
    set_io_timeouts(socket.native_handle(), o.timeout);
    if (socket.connect(a.endpoint(), ec); !ec) return absl::OkStatus();
    last = ec.message();
  }
  std::error_code ignored;
  socket.close(ignored);
  return absl::UnavailableError(str_cat("cannot connect to ", o.host, ":", o.port, ": ", last));
}

// Whether `host` is an IP address literal (checked against the certificate's IP
// subjectAltNames; it gets no SNI) rather than a DNS name.
bool is_ip_literal(const std::string& host) {
  std::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Why the proxy's certificate was not accepted, and what fixes it: an operator reads
// this after exit status 3.
std::string verify_failure(long result, const client_options& o) {
  const std::string why = X509_verify_cert_error_string(result);
  if (result == X509_V_ERR_HOSTNAME_MISMATCH || result == X509_V_ERR_IP_ADDRESS_MISMATCH) {
    return str_cat("the proxy's certificate is not for \"", o.host, "\" (", why,
                   "): connect by a name or address its certificate holds (--proxy), or pin its key with --pin "
                   "(ZONEPROXY_CTL_PIN, the pins= of the proxy's event=identity log line)");
  }
  if (o.trusted.empty()) {
    return str_cat("the proxy's certificate could not be verified (", why,
                   "): give the CA that signed it with --ca (ZONEPROXY_CTL_CA, e.g. the zone CA certificate), or "
                   "--pin with the pins= of the proxy's event=identity log line (ZONEPROXY_CTL_PIN); --insecure "
                   "skips the check");
  }
  return str_cat("the proxy's certificate does not chain to --ca (", why,
                 "): is --ca the CA that signed the proxy's certificates? (or --pin, or --insecure)");
}

std::string tls_failure() {
  unsigned long e = ERR_get_error();
  ERR_clear_error();
  if (e == 0) return "connection closed during the TLS handshake (certificate refused or revoked?)";
  const char* r = ERR_reason_error_string(e);
  return r ? r : "TLS error";
}

}  // namespace

absl::StatusOr<api_client> api_client::create(client_options o) {
  std::vector<X509*> trusted;
  for (auto& c : o.trusted) trusted.push_back(c.get());
  auto ctx = make_client_ctx(o.client_cert ? &*o.client_cert : nullptr, trusted);
  if (!ctx.ok()) return ctx.status();
  if (!o.insecure && o.pins.empty() && o.trusted.empty()) {
    // Neither a pin nor a CA: the system's trusted CAs, as curl would.
    SSL_CTX_set_default_verify_paths(ctx->get());
    SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_PEER, nullptr);
  }
  if (o.insecure) SSL_CTX_set_verify(ctx->get(), SSL_VERIFY_NONE, nullptr);
  return api_client(std::move(o), std::move(*ctx));
}

absl::StatusOr<http_result> api_client::call(const std::string& method, const std::string& path,
                                             const std::string& body) {
  const client_options& o = options_;
  asio::io_context io;
  asio::ip::tcp::socket socket(io);  // closed on every way out, after the SSL* (below)
  if (auto st = connect_to(o, socket); !st.ok()) return st;
  ssl_ptr ssl(SSL_new(ctx_.get()));
  SSL_set_fd(ssl.get(), static_cast<int>(socket.native_handle()));
  if (session_) SSL_set_session(ssl.get(), session_.get());  // a proxy that refuses it does a full handshake
  const bool ip = is_ip_literal(o.host);
  if (!ip) SSL_set_tlsext_host_name(ssl.get(), o.host.c_str());
  // A chain is only worth its name: the certificate must be for what we connected to. A
  // pin names the key itself, so it needs no name.
  if (!o.insecure && o.pins.empty()) {
    if (ip) {
      X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl.get()), o.host.c_str());
    } else {
      SSL_set1_host(ssl.get(), o.host.c_str());
    }
  }
  ERR_clear_error();
  if (SSL_connect(ssl.get()) != 1) {
    if (const long result = SSL_get_verify_result(ssl.get()); result != X509_V_OK) {
      ERR_clear_error();
      return absl::UnavailableError(verify_failure(result, o));
    }
    return absl::UnavailableError(str_cat("TLS handshake failed: ", tls_failure()));
  }
  if (SSL_session_reused(ssl.get()) == 1) ++resumed_;
  // A resumed session still carries the certificate the proxy showed in the full
  // handshake: the pin holds for every request, resumed or not.
  if (!o.pins.empty()) {
    X509* cert = SSL_get0_peer_certificate(ssl.get());
    const std::string spki = cert ? spki_sha256_hex(cert) : std::string();
    bool pinned = false;
    for (const auto& pin : o.pins) pinned = pinned || pin == spki;
    if (!pinned) return absl::UnavailableError(str_cat("server key ", spki, " does not match the pinned fingerprint"));
  }
  // A copy, never this connection's own session: OpenSSL marks that one unresumable
  // when the SSL is freed without having sent close_notify (any error below).
  if (SSL_SESSION* s = SSL_get0_session(ssl.get()); s != nullptr && SSL_SESSION_is_resumable(s) == 1) {
    session_.reset(SSL_SESSION_dup(s));
  }
  std::string req = str_cat(method, " ", path, " HTTP/1.1\r\nHost: ", o.host, "\r\nConnection: close\r\n");
  if (!o.token.empty()) str_append(req, "Authorization: Bearer ", o.token, "\r\n");
  if (!body.empty() || method == "POST" || method == "PUT") {
    str_append(req, "Content-Type: application/json\r\nContent-Length: ", body.size(), "\r\n");
  }
  str_append(req, "\r\n", body);
  std::size_t off = 0;
  while (off < req.size()) {
    std::size_t n = 0;
    if (SSL_write_ex(ssl.get(), req.data() + off, req.size() - off, &n) != 1) {
      return absl::UnavailableError(str_cat("write failed: ", tls_failure()));
    }
    off += n;
  }
  std::string in;
  char buf[16384];
  while (true) {
    std::size_t n = 0;
    if (SSL_read_ex(ssl.get(), buf, sizeof buf, &n) != 1) {  // close_notify, FIN or error: end of reply
      // The proxy ended cleanly (close_notify, or a FIN: SSL_OP_IGNORE_UNEXPECTED_EOF):
      // so do we, a clean TLS close on both sides rather than a truncation.
      if (SSL_get_error(ssl.get(), 0) == SSL_ERROR_ZERO_RETURN) SSL_shutdown(ssl.get());
      break;
    }
    in.append(buf, n);
    if (in.size() > (64u << 20)) return absl::UnavailableError("reply too large");
  }
  if (in.empty()) {
    return absl::UnavailableError("the proxy closed the connection without an answer (certificate refused?)");
  }
  const auto head_end = in.find("\r\n\r\n");
  if (in.rfind("HTTP/1.1 ", 0) != 0 || head_end == std::string::npos) {
    return absl::UnavailableError("malformed reply");
  }
  http_result r;
  r.status = std::atoi(in.c_str() + 9);
  r.body = in.substr(head_end + 4);
  return r;
}

}  // namespace zp::ctl
